/**
 * Crash-test child: opens the store at argv[2] and loads the archive argv[3], reading it slowly
 * (so the parent can kill it with SIGKILL at a chosen moment). Prints "done" when finished.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { openDatabase } from '../../sys/database';
import { LocalImageStore } from '../store';
import { makeSnapshotter } from './fixtures';

async function main(): Promise<void> {
  const [dir, archive] = process.argv.slice(2);
  const db = openDatabase(join(dir, 'berth.db'));
  const store = await LocalImageStore.open(db, join(dir, 'content'), await makeSnapshotter(join(dir, 'snapshots')));
  const slow = new Transform({
    transform(chunk, _enc, cb) { setTimeout(() => cb(null, chunk), 2); },
  });
  await store.load(createReadStream(archive, { highWaterMark: 64 * 1024 }).pipe(slow));
  process.stdout.write('done\n');
}
main().catch((e) => { process.stderr.write(String(e?.stack ?? e)); process.exit(1); });
