import { readFileSync } from 'node:fs';
import { nativeSys } from './native';

/**
 * syncfs(2) of the filesystem holding `path`: every dirty page and inode of that filesystem reaches
 * the disk. One call for a whole tree of files written without fsync, e.g. the layers a build
 * committed. Through the native addon on a pool thread: node has no syncfs, and spawning
 * `sync -f` blocked the event loop until the child ran (~0.2 s per call on a loaded host here).
 */
export async function syncFs(path: string): Promise<void> {
  await nativeSys().syncfs(path);
}

let boot: string | undefined;

/**
 * This boot's random ID (/proc/sys/kernel/random/boot_id). Data written without fsync survives a
 * crash of the process that wrote it (it is in the page cache) but not one of the kernel or the
 * machine: a record made under another boot ID tells a restart after such a crash.
 */
export function bootId(): string {
  boot ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return boot;
}
