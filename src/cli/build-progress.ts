/**
 * `berth build --progress`: how the legacy build stream (`Step n/m : ...`, ` ---> id (0.42s)`,
 * RUN output) is shown.
 *
 * - plain: the stream as it comes, Docker's legacy text with each step's time on its result line.
 * - tty: one line per step, `[n/m] INSTRUCTION` with a running clock; while a step runs, the last
 *   lines of its output below it; when it ends, the line gets its time (or CACHED) and the output
 *   folds away. A failing step's output stays. The intermediate-container lines are left out.
 */

/** Where the tty view draws, and its clock. */
export interface TtyScreen {
  write(s: string): void;
  columns: number;
  now(): number;
}

const STEP = /^Step (\d+)\/(\d+) : (.*)$/;
const RESULT = /^ ---> ([0-9a-f]{12})(?: \((\d+(?:\.\d+)?)s\))?$/;
const HIDDEN = /^ ---> (Running in [0-9a-f]{12}|Removed intermediate container [0-9a-f]{12})$/;
const CACHED = /^ ---> Using cache$/;
const LIVE_LINES = 6;

interface StepView { label: string; started: number; cached: boolean; output: string[] }

export class TtyBuildProgress {
  private partial = '';
  private step?: StepView;
  /** Lines of the live region now on screen (erased before each redraw). */
  private drawn = 0;

  constructor(private readonly screen: TtyScreen) {}

  /** A chunk of the stream's text (`stream` messages). */
  text(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    this.erase();
    for (const l of lines) this.line(l);
    this.draw();
  }

  /** Redraws the running clock. */
  tick(): void {
    if (!this.step) return;
    this.erase();
    this.draw();
  }

  /** The build ended; `failed`: keep the running step's output on screen. */
  finish(failed: boolean): void {
    this.erase();
    if (this.partial) { this.line(this.partial); this.partial = ''; }
    if (this.step) this.close(this.step, failed ? 'ERROR' : undefined, failed);
    this.step = undefined;
  }

  private line(l: string): void {
    const m = STEP.exec(l);
    if (m) {
      if (this.step) this.close(this.step);
      this.step = { label: `[${m[1]}/${m[2]}] ${m[3]}`, started: this.screen.now(), cached: false, output: [] };
      return;
    }
    if (HIDDEN.test(l)) return;
    if (CACHED.test(l)) { if (this.step) this.step.cached = true; return; }
    const r = RESULT.exec(l);
    if (r && this.step) {
      const secs = r[2] !== undefined ? Number(r[2]) : (this.screen.now() - this.step.started) / 1000;
      this.close(this.step, this.step.cached ? 'CACHED' : `${secs.toFixed(1)}s`);
      this.step = undefined;
      return;
    }
    if (this.step) this.step.output.push(l);
    else this.screen.write(`${l}\n`);
  }

  /** Prints a step's final line (and, when `keepOutput`, what it printed). */
  private close(s: StepView, status?: string, keepOutput = false): void {
    this.screen.write(`${this.fit(s.label, status ?? `${((this.screen.now() - s.started) / 1000).toFixed(1)}s`)}\n`);
    if (keepOutput) for (const o of s.output) this.screen.write(`${o}\n`);
  }

  /** `label` and `status` on one line of the terminal's width, the label cut when too long. */
  private fit(label: string, status: string): string {
    const width = Math.max(20, this.screen.columns);
    const room = width - status.length - 2;
    const l = label.length > room ? `${label.slice(0, Math.max(0, room - 1))}…` : label;
    return `${l}${' '.repeat(Math.max(1, width - l.length - status.length - 1))}${status}`;
  }

  private draw(): void {
    const s = this.step;
    if (!s) return;
    const rows = [this.fit(s.label, `${((this.screen.now() - s.started) / 1000).toFixed(1)}s`)];
    const width = Math.max(20, this.screen.columns);
    for (const o of s.output.slice(-LIVE_LINES)) {
      const t = `  ${o}`.replace(/\t/g, ' ').replace(/[\r\x1b]/g, '');
      rows.push(`\x1b[2m${t.length > width - 1 ? t.slice(0, width - 1) : t}\x1b[0m`);
    }
    this.screen.write(`${rows.join('\n')}\n`);
    this.drawn = rows.length;
  }

  private erase(): void {
    if (this.drawn) this.screen.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }
}
