import { invalidArgument } from '../base/errors';
import { run } from './exec';

/**
 * `docker top`: runs the host's `ps` with the user's arguments and keeps the rows of the given PIDs,
 * as Docker does. The PID column is found by its title.
 */
export async function runProcessList(psArgs: string, pids: number[]): Promise<{ Titles: string[]; Processes: string[][] }> {
  const args = psArgs.trim().split(/\s+/).filter(Boolean);
  const { stdout } = await run('ps', args, { errorKind: 'InvalidArgument' });
  return parseProcessList(stdout, pids);
}

export function parseProcessList(out: string, pids: number[]): { Titles: string[]; Processes: string[][] } {
  const lines = out.split('\n').filter((l) => l.trim());
  if (!lines.length) return { Titles: [], Processes: [] };
  const titles = lines[0].trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw invalidArgument(`Couldn't find PID field in ps output`);
  const want = new Set(pids);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    // The last column (the command) may contain spaces: keep it whole.
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
    const pid = Number(row[pidCol]);
    if (want.has(pid)) processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}
