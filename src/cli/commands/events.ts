// `berth events` / `berth system events`, as docker CLI 28 (cli/command/system/events.go).
import { jsonLines } from '../../client/engine-client';
import type { EventMessage } from '../../client/types';
import { StatusError, str, type Command } from '../cli';
import { INSPECT_FORMAT_HELP } from '../flags';
import { localTimeParts } from '../format/contexts';
import { byteOrder } from '../format/formatter';
import { goMap, goStruct } from '../format/go-values';
import { Template } from '../template/template';
import { filterFlag, filters, getTimestamp } from './shared';

/**
 * An event as docker's templates see it (events.Message): Go field names, its JSON tags for
 * `{{json .}}`. `timeNano` is given as the text the engine sent: nanoseconds since 1970 pass 2^53
 * (a BigInt here, printed exactly).
 */
export function eventView(e: EventMessage, timeNano: string, typeName = 'events.Message'): Record<string, unknown> {
  return goStruct(typeName, {
    Status: e.status ?? '', ID: e.id ?? '', From: e.from ?? '', Type: e.Type ?? '', Action: e.Action ?? '',
    Actor: goStruct('events.Actor', { ID: e.Actor?.ID ?? '', Attributes: goMap(e.Actor?.Attributes, '') }),
    Scope: e.scope ?? '', Time: e.time ?? 0, TimeNano: BigInt(timeNano || 0),
  }, {
    json: { Status: 'status', ID: 'id', From: 'from', Scope: 'scope', Time: 'time', TimeNano: 'timeNano' },
    omitempty: ['Status', 'ID', 'From', 'Time', 'TimeNano'],
  });
}

/** Go's "2006-01-02T15:04:05.000000000Z07:00" in the local zone, from unix seconds and nanoseconds. */
export function rfc3339NanoFixed(seconds: number, nanos: number): string {
  const t = localTimeParts(new Date(seconds * 1000));
  return `${t.date}T${t.time}.${String(nanos).padStart(9, '0')}${t.offset === 0 ? 'Z' : t.zone(':')}`;
}

/**
 * docker's prettyPrintEvent: time (from timeNano, else time), type, action, actor ID, and the
 * attributes sorted by key in parentheses. `timeNano` is the engine's digits.
 */
export function prettyEvent(e: EventMessage, timeNano: string): string {
  let out = '';
  if (timeNano && timeNano !== '0') {
    const digits = timeNano.padStart(10, '0');
    out += `${rfc3339NanoFixed(Number(digits.slice(0, -9)), Number(digits.slice(-9)))} `;
  } else if (e.time) out += `${rfc3339NanoFixed(e.time, 0)} `;
  out += `${e.Type} ${e.Action} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort(byteOrder);
  if (keys.length) out += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return `${out}\n`;
}

/** The template for --format ("json" is `{{json .}}`), checked on an empty message as docker does (status 64). */
function eventTemplate(format: string): Template | undefined {
  if (!format) return undefined;
  const src = format === 'json' ? '{{json .}}' : format;
  try {
    const t = Template.compile(src);
    t.execute(eventView({ Type: '', Action: '', Actor: { ID: '' } }, '0', '*events.Message'));
    return t;
  } catch (e) {
    throw new StatusError(64, `Error parsing format: ${(e as Error).message}`);
  }
}

const events: Command = {
  spec: {
    name: 'events', usage: 'events [OPTIONS]', description: 'Get real time events from the server', maxArgs: 0,
    aliases: ['system events', 'events'],
    flags: [
      filterFlag('Filter output based on conditions provided', 'f'),
      { long: 'format', type: 'string', help: INSPECT_FORMAT_HELP },
      { long: 'since', type: 'string', help: 'Show all events created since timestamp' },
      { long: 'until', type: 'string', help: 'Stream events until this timestamp' },
    ],
  },
  async run(cli, p) {
    const tmpl = eventTemplate(str(p, 'format'));
    let since: string, until: string;
    try {
      since = getTimestamp(str(p, 'since'));
      until = getTimestamp(str(p, 'until'));
    } catch (e) { throw new StatusError(1, (e as Error).message); }
    const res = await cli.client.events({ since, until, filters: filters(p) });
    for await (const line of jsonLines(res)) {
      const e = JSON.parse(line) as EventMessage;
      // The exact nanoseconds, which JSON.parse would round.
      const timeNano = /"timeNano":\s*(\d+)/.exec(line)?.[1] ?? '';
      if (!tmpl) { cli.out.write(prettyEvent(e, timeNano)); continue; }
      let out: string;
      try { out = tmpl.execute(eventView(e, timeNano)); } catch (err) { throw new StatusError(1, (err as Error).message); }
      cli.out.write(`${out}\n`);
    }
  },
};

export const commands: Record<string, Command> = { events };
