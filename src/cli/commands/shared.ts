// Helpers shared by the command modules.
import { createInterface } from 'node:readline';
import { ClientError } from '../../client/client-error';
import { Cli, StatusError } from '../cli';
import { compileFormat, prepareFormat } from '../format/formatter';
import { parseGoDuration } from '../../base/units';

export const daemonMessage = (e: unknown) =>
  e instanceof ClientError ? (e.status ? `Error response from daemon: ${e.message}` : e.message) : (e as Error).message;

/** Runs `fn` for each argument like docker's multi-object commands: print the argument on success, collect errors, exit 1. */
export async function forEachArg(cli: Cli, args: string[], fn: (a: string) => Promise<unknown>, printArg = true): Promise<void> {
  const errs: string[] = [];
  for (const a of args) {
    try { await fn(a); if (printArg) cli.print(a); } catch (e) { errs.push(daemonMessage(e)); }
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
}

/** Asks "Are you sure you want to continue? [y/N]" and reads a line from stdin. */
export async function confirm(cli: Cli, warning: string): Promise<boolean> {
  cli.out.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const rl = createInterface({ input: cli.input });
  const line: string = await new Promise((resolve) => { rl.once('line', resolve); rl.once('close', () => resolve('')); });
  rl.close();
  cli.input.pause();
  return /^y(es)?$/i.test(line.trim());
}

/** docker's timestamp flags (--since/--until): a Go duration relative to now, RFC3339 or a date, or unix seconds. */
export function parseTimestamp(value: string, nowMs = Date.now()): string {
  if (!value) return '';
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  try {
    const d = parseGoDuration(value);
    const t = (nowMs - d) / 1000;
    return t.toFixed(9).replace(/\.?0+$/, '');
  } catch { /* not a duration */ }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new StatusError(125, `invalid value for "since": failed to parse value as time or duration: "${value}"`);
  const secs = Math.floor(ms / 1000), nanos = (ms % 1000) * 1e6;
  return `${secs}.${String(nanos).padStart(9, '0')}`;
}

/** Prints inspect results: indented JSON array, or the template applied to each object. */
export function printInspect(cli: Cli, objects: unknown[], format: string): void {
  if (!format) {
    cli.print(objects.length ? JSON.stringify(objects, null, 4) : '[]');
    return;
  }
  if (format === 'json') { for (const o of objects) cli.print(JSON.stringify(o)); return; }
  const tmpl = compileFormat(prepareFormat(format));
  for (const o of objects) {
    try { cli.print(tmpl.execute(o)); } catch (e) { throw new StatusError(1, `template: ${(e as Error).message.replace(/^template: /, '')}`); }
  }
}

export function refuseTerminal(cli: Cli, what: string): void {
  if (cli.out.isTTY) throw new StatusError(1, `cowardly refusing to save to a terminal. Use the -o flag or redirect`);
  void what;
}
