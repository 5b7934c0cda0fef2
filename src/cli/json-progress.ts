// Docker's jsonmessage display for pull and push streams: on a terminal one line per layer ID,
// redrawn in place (cursor up, clear line) with the engine's progress bar; elsewhere each status
// line once and no progress lines, as DisplayJSONMessagesStream does for non-terminals.
import { ClientError } from '../client/client-error';
import { jsonMessages } from '../client/engine-client';
import type { JSONMessage } from '../client/types';

export interface ProgressDisplay {
  /** Where lines go (stdout for pull/push, stderr for the pull inside run/create). */
  out: NodeJS.WritableStream & { isTTY?: boolean };
  /** Print nothing (the stream is still read to its end and errors still thrown). */
  quiet?: boolean;
}

/**
 * Reads a JSON message stream to its end, rendering it; throws a ClientError (status 500) for an
 * `error` message, as the docker CLI turns it into "Error response from daemon"-less text. Returns
 * the `aux` records (push results).
 */
export async function displayJSONMessages(res: NodeJS.ReadableStream, d: ProgressDisplay): Promise<Array<Record<string, unknown>>> {
  const tty = !!d.out.isTTY && !d.quiet;
  const lines = new Map<string, number>();
  let count = 0;
  const aux: Array<Record<string, unknown>> = [];
  for await (const m of jsonMessages(res as never)) {
    if (m.error) throw new ClientError(500, m.error);
    if (m.aux) { aux.push(m.aux); continue; }
    if (d.quiet) continue;
    const text = render(m, tty);
    if (text === undefined) continue;
    if (tty && m.id) {
      const idx = lines.get(m.id);
      if (idx === undefined) {
        lines.set(m.id, count++);
        d.out.write(`${text}\n`);
      } else {
        const up = count - idx;
        d.out.write(`\x1b[${up}A\x1b[2K\r${text}\r\x1b[${up}B`);
      }
    } else {
      if (tty) { lines.clear(); count = 0; }
      d.out.write(`${text}\n`);
    }
  }
  return aux;
}

function render(m: JSONMessage, tty: boolean): string | undefined {
  if (m.stream) return m.stream.replace(/\n$/, '');
  if (m.status === undefined) return undefined;
  const hasProgress = m.progressDetail?.current !== undefined;
  if (hasProgress && !tty) return undefined;
  const prefix = m.id ? `${m.id}: ` : '';
  return `${prefix}${m.status}${hasProgress && m.progress ? ` ${m.progress}` : ''}`;
}
