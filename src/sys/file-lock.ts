import { closeSync, openSync } from 'node:fs';
import { nativeSys } from './native';

/**
 * Runs `fn` holding an exclusive flock(2) on `path`, a lock shared with other processes (other
 * berthds, netavark's other users). The lock is polled, never waited for in a syscall: the event
 * loop keeps serving while someone else holds it.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const fd = openSync(path, 'a', 0o644);
  try {
    for (let wait = 1; !nativeSys().flockTry(fd); wait = Math.min(wait * 2, 50)) {
      await new Promise((r) => setTimeout(r, wait));
    }
    return await fn();
  } finally {
    closeSync(fd); // closing drops the lock
  }
}
