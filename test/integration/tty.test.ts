import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, Daemon, startDaemon } from './harness';

// Real terminals: each scenario runs a CLI inside a tmux pane of a fixed size, types into it with
// `send-keys` and reads the screen with `capture-pane`. The same scenarios run with the docker CLI
// and with ours. tmux runs on a private socket so it never touches anyone else's sessions.

/** A bash shell in a detached tmux session; the CLIs are typed into it so their exit status can be echoed. */
class Pane {
  constructor(private readonly sock: string, readonly name: string, private readonly env: NodeJS.ProcessEnv) {}

  tmux(args: string[]): string {
    const r = spawnSync('tmux', ['-S', this.sock, ...args], { env: this.env, encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  start(width: number, height: number): void {
    this.tmux(['new-session', '-d', '-s', this.name, '-x', String(width), '-y', String(height), 'bash --norc --noprofile -i']);
  }

  /** Types text literally (no key-name lookup: "right" stays five letters). */
  type(text: string): void { this.tmux(['send-keys', '-t', this.name, '-l', text]); }

  /** Sends named keys: Enter, BSpace, C-d, ... */
  keys(...keys: string[]): void { this.tmux(['send-keys', '-t', this.name, ...keys]); }

  line(text: string): void { this.type(text); this.keys('Enter'); }

  /** The screen and its scrollback, wrapped lines joined. */
  screen(): string { return this.tmux(['capture-pane', '-p', '-J', '-S', '-1000', '-t', this.name]); }

  /** Polls the screen until `re` matches; returns the match. */
  async waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.screen().match(re);
      if (m) return m;
      if (Date.now() > end) assert.fail(`pane ${this.name}: ${re} did not appear; screen:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 40));
    }
  }

  resize(width: number, height: number): void {
    this.tmux(['resize-window', '-t', this.name, '-x', String(width), '-y', String(height)]);
  }

  kill(): void {
    spawnSync('tmux', ['-S', this.sock, 'kill-session', '-t', this.name], { env: this.env, timeout: 10_000 });
  }
}

const PROMPT = /^\/ #\s*$/m;

/**
 * The container's terminal size after a resize: the CLI learns it by SIGWINCH and tells the engine
 * in a request of its own, so a `stty size` typed at once can still run before it arrived (seen
 * once in a clean-clone CI). It is asked again each second until the new size shows, 10 s at most.
 */
async function waitForSize(p: Pane, want: RegExp): Promise<void> {
  for (let i = 0; ; i++) {
    p.line('stty size');
    try {
      await p.waitFor(want, 1000);
      return;
    } catch (e) {
      if (i >= 9) throw e;
    }
  }
}
const exitLine = (tag: string) => new RegExp(`${tag}=(\\d+)$`, 'm'); // a detached CLI prints no newline: "/ # EXIT=0"

for (const [label, cli] of [['docker', 'docker'], ['berth', BERTH]] as const) {
  describe(`${label} CLI in a real terminal`, () => {
    let d: Daemon;
    let tmp: string;
    let sock: string;
    let seq = 0;
    before(async () => {
      d = await startDaemon();
      tmp = mkdtempSync('/tmp/berth-tty-');
      sock = join(tmp, 'tmux.sock');
    });
    after(async () => {
      await d?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    /** Runs `body` with a fresh pane, killing its session afterwards whatever happens. */
    const withPane = async (width: number, height: number, body: (p: Pane) => Promise<void>) => {
      const p = new Pane(sock, `berth-tty-${process.pid}-${label}-${seq++}`, { ...d.env, TERM: 'xterm' });
      p.start(width, height);
      try { await body(p); } finally { p.kill(); }
    };
    const inspect = (format: string, name: string) => d.docker(['inspect', '-f', format, name]).stdout.trim();

    test('run --rm -it: prompt, commands, line editing, terminal size and resize, Ctrl-D exit status', async () => {
      await withPane(100, 30, async (p) => {
        p.line(`${cli} run --rm -it --name tty-run busybox sh; echo EXIT=$?`);
        await p.waitFor(PROMPT);
        p.line('echo $((6*7))');
        await p.waitFor(/^42$/m);
        // Line editing in the container's terminal: a wrong word typed, erased, replaced.
        p.type('echo wrongg');
        await p.waitFor(/echo wrongg$/m);
        p.keys(...Array(6).fill('BSpace'));
        p.type('right');
        p.keys('Enter');
        await p.waitFor(/^right$/m);
        assert.doesNotMatch(p.screen(), /^wrongg/m);
        p.line('stty size');
        await p.waitFor(/^30 100$/m);
        // SIGWINCH in the CLI -> POST /containers/{id}/resize -> the container's terminal.
        p.resize(70, 20);
        await waitForSize(p, /^20 70$/m);
        // Ctrl-D on an empty line ends the shell with the status of its last command.
        p.line('false');
        p.keys('C-d');
        const [, status] = await p.waitFor(exitLine('EXIT'));
        assert.equal(status, '1');
      });
      for (let i = 0; i < 100 && d.docker(['ps', '-aq', '--filter', 'name=tty-run']).stdout; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(d.docker(['ps', '-aq', '--filter', 'name=tty-run']).stdout, '', '--rm removed the container');
    });

    test('exec -it into a detached container: prompt, size, resize, exit status', async () => {
      const r = d.docker(['run', '-d', '--name', 'tty-exec', 'busybox', 'sleep', '600']);
      assert.equal(r.status, 0, r.stderr);
      try {
        await withPane(90, 25, async (p) => {
          p.line(`${cli} exec -it tty-exec sh; echo EXIT=$?`);
          await p.waitFor(PROMPT);
          p.line('echo $((6*7)) $$');
          await p.waitFor(/^42 \d+$/m);
          p.line('stty size');
          await p.waitFor(/^25 90$/m);
          p.resize(60, 15);
          await waitForSize(p, /^15 60$/m);
          p.line('exit 3');
          const [, status] = await p.waitFor(exitLine('EXIT'));
          assert.equal(status, '3');
        });
        assert.equal(inspect('{{.State.Running}}', 'tty-exec'), 'true', 'the exec ending leaves the container running');
      } finally {
        d.docker(['rm', '-f', 'tty-exec']);
      }
    });

    test('detach keys leave the container running; attach gets back into it', async () => {
      try {
        await withPane(100, 30, async (p) => {
          p.line(`${cli} run -it --name tty-detach busybox sh; echo EXIT=$?`);
          await p.waitFor(PROMPT);
          p.line('echo before-$((1+1))');
          await p.waitFor(/^before-2$/m);
          p.keys('C-p', 'C-q');
          const [, status] = await p.waitFor(exitLine('EXIT'));
          assert.equal(status, '0');
          assert.equal(inspect('{{.State.Running}}', 'tty-detach'), 'true', 'detaching leaves the container running');

          p.line(`${cli} attach tty-detach; echo REATTACHED=$?`);
          // The CLI nudges the terminal size so the shell redraws its prompt.
          await p.waitFor(/^\/ #\s*$(?![\s\S]*REATTACHED)/m);
          p.line('echo after-$((2+3))');
          await p.waitFor(/^after-5$/m);
          p.line('stty size');
          await p.waitFor(/^30 100$/m);
          p.line('exit 4');
          const [, again] = await p.waitFor(exitLine('REATTACHED'));
          assert.equal(again, '4');
        });
        assert.equal(inspect('{{.State.Status}} {{.State.ExitCode}}', 'tty-detach'), 'exited 4');
      } finally {
        d.docker(['rm', '-f', 'tty-detach']);
      }
    });

    test('custom --detach-keys on exec leave the exec session ("read escape sequence", exit 1, as docker)', async () => {
      const r = d.docker(['run', '-d', '--name', 'tty-keys', 'busybox', 'sleep', '600']);
      assert.equal(r.status, 0, r.stderr);
      try {
        await withPane(80, 24, async (p) => {
          p.line(`${cli} exec -it --detach-keys ctrl-x,x tty-keys sh; echo EXIT=$?`);
          await p.waitFor(PROMPT);
          p.line('echo in-$((3*3))');
          await p.waitFor(/^in-9$/m);
          p.keys('C-x', 'x');
          const [, status] = await p.waitFor(exitLine('EXIT'));
          assert.equal(status, '1');
          assert.match(p.screen(), /read escape sequence\s*\nEXIT=1$/m);
        });
        assert.equal(inspect('{{.State.Running}}', 'tty-keys'), 'true');
      } finally {
        d.docker(['rm', '-f', 'tty-keys']);
      }
    });
  });
}
