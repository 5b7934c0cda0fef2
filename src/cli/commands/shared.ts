// Helpers shared by the command modules.
import { createInterface } from 'node:readline';
import { ClientError } from '../../client/client-error';
import { Cli, StatusError, list } from '../cli';
import type { FlagSpec, Parsed } from '../flags';
import { validateFilter } from '../opts';
import { compileFormat, prepareFormat } from '../format/formatter';
import { goMarshal, indentJSON } from '../format/go-values';
import { Template, type TemplateError } from '../template/template';
import { parseGoDuration } from '../../base/units';

export const daemonMessage = (e: unknown) =>
  e instanceof ClientError ? (e.status ? `Error response from daemon: ${e.message}` : e.message) : (e as Error).message;

/** Runs `fn` for each argument like docker's multi-object commands: print the argument on success, collect errors, exit 1. */
/** The `--filter` flag of the list and prune commands (validated as docker's opts.FilterOpt). */
export const filterFlag = (help: string, short?: string): FlagSpec => ({ long: 'filter', short, type: 'list', meta: 'filter', help, validate: validateFilter });
/** The `--filter` values given (empty ones dropped, as docker's FilterOpt). */
export const filters = (p: Parsed): string[] => list(p, 'filter').filter(Boolean);

export async function forEachArg(cli: Cli, args: string[], fn: (a: string) => Promise<unknown>, printArg = true): Promise<void> {
  const errs: string[] = [];
  for (const a of args) {
    try { await fn(a); if (printArg) cli.print(a); } catch (e) { errs.push(daemonMessage(e)); }
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
}

/** Asks "Are you sure you want to continue? [y/N]" under a warning and reads a line from stdin. */
export function confirm(cli: Cli, warning: string): Promise<boolean> {
  return prompt(cli, `${warning}\nAre you sure you want to continue?`);
}

/** docker's prompt.Confirm: the message, " [y/N] ", and a line from stdin; true for "y" or "Y". */
export async function prompt(cli: Cli, message: string): Promise<boolean> {
  cli.out.write(`${message} [y/N] `);
  const rl = createInterface({ input: cli.input });
  const line: string = await new Promise((resolve) => { rl.once('line', resolve); rl.once('close', () => resolve('')); });
  rl.close();
  cli.input.pause();
  // docker's prompt.Confirm takes "y" or "Y" only.
  return line.trim().toLowerCase() === 'y';
}

/**
 * docker's timestamp flags (--since/--until) as the API takes them (timetypes.GetTimestamp): a Go
 * duration relative to now, RFC3339 or a date, or unix seconds. Throws Error with its message.
 */
export function getTimestamp(value: string, nowMs = Date.now()): string {
  if (!value) return '';
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  try {
    const d = parseGoDuration(value);
    const t = (nowMs - d) / 1000;
    return t.toFixed(9).replace(/\.?0+$/, '');
  } catch { /* not a duration */ }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`failed to parse value as time or duration: "${value}"`);
  const secs = Math.floor(ms / 1000), nanos = (ms % 1000) * 1e6;
  return `${secs}.${String(nanos).padStart(9, '0')}`;
}

/** getTimestamp for `logs`, whose bad values are usage errors (status 125). */
export function parseTimestamp(value: string, nowMs = Date.now()): string {
  try { return getTimestamp(value, nowMs); } catch (e) { throw new StatusError(125, `invalid value for "since": ${(e as Error).message}`); }
}

/** Prints inspect results: indented JSON array, or the template applied to each object. */
export function printInspect(cli: Cli, objects: unknown[], format: string): void {
  if (!format) {
    cli.print(objects.length ? JSON.stringify(objects, null, 4) : '[]');
    return;
  }
  if (format === 'json') { for (const o of objects) cli.print(JSON.stringify(o)); return; }
  const tmpl = compileFormat(prepareFormat(format));
  for (const o of objects) cli.print(executeTemplate(tmpl, o));
}

/** A template applied to one object; an error is docker's "template: ..." with status 1. */
export function executeTemplate(tmpl: Template, o: unknown): string {
  try { return tmpl.execute(o); } catch (e) { throw new StatusError(1, `template: ${(e as Error).message.replace(/^template: /, '')}`); }
}

export function refuseTerminal(cli: Cli, what: string): void {
  if (cli.out.isTTY) throw new StatusError(1, `cowardly refusing to save to a terminal. Use the -o flag or redirect`);
  void what;
}

/** One object to inspect: its typed view (goStruct values), and the engine's JSON when docker keeps it. */
export interface Inspected { typed: unknown; raw?: string }

/**
 * docker's inspect.Inspect for `volume inspect`, `network inspect`, ...: fetches every reference,
 * then prints a JSON array indented by four spaces (one line for `--format json`) or each object
 * through the template. JSON comes from the engine's raw answer when there is one (field order
 * kept), else from the typed view; a template runs on the typed view and, when that fails and raw
 * JSON exists, on the raw map with missingkey=error. Errors are printed after the output (exit 1);
 * a template that does not parse exits 64.
 */
export async function inspectEach(cli: Cli, refs: string[], format: string, get: (ref: string) => Promise<Inspected>): Promise<void> {
  let tmpl: Template | undefined;
  if (format && format !== 'json') {
    try { tmpl = Template.compile(format); } catch (e) { throw new StatusError(64, `template parsing error: ${(e as TemplateError).message}`); }
  }
  const found: Inspected[] = [];
  const errs: string[] = [];
  let out = '';
  for (const ref of refs) {
    let item: Inspected;
    try { item = await get(ref); } catch (e) { errs.push(daemonMessage(e)); continue; }
    if (!tmpl) { found.push(item); continue; }
    try {
      out += tmpl.execute(item.typed) + '\n';
    } catch (e) {
      if (item.raw === undefined) { errs.push(`template parsing error: ${(e as Error).message}`); continue; }
      try { out += tmpl.execute(sortedKeys(JSON.parse(item.raw)), { missingKey: 'error' }) + '\n'; } catch (e2) { errs.push(`template parsing error: ${(e2 as Error).message}`); }
    }
  }
  if (!tmpl) {
    const indent = format === 'json' ? '' : '    ';
    if (!found.length) out = '[]\n';
    else if (found.some((f) => f.raw !== undefined)) out = indentJSON(`[${found.filter((f) => f.raw !== undefined).map((f) => f.raw).join(',')}]`, indent) + '\n';
    else out = goMarshal(found.map((f) => f.typed), indent) + '\n';
  }
  cli.out.write(out || '\n');
  if (errs.length) throw new StatusError(1, errs.join('\n'));
}

/** JSON decoded as Go decodes it into map[string]interface{}: maps whose keys (as json.Marshal shows them) are sorted. */
function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => [k, sortedKeys(o[k])]));
}
