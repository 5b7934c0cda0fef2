import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../sys/exec';

/**
 * Test helper: a busybox rootfs in a temp dir (static busybox, applets as symlinks, /etc/passwd
 * with root and uid 1000 "user", /etc/group). Returns the temp dir; the rootfs is `<dir>/rootfs`.
 */
export async function makeBusyboxRootfs(): Promise<{ dir: string; rootfs: string }> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'brt-'));
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/user']) await fsp.mkdir(join(rootfs, d), { recursive: true });
  await fsp.chmod(join(rootfs, 'tmp'), 0o1777);
  await fsp.copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await fsp.chmod(join(rootfs, 'bin/busybox'), 0o755);
  const { stdout } = await run('/bin/busybox', ['--list']);
  await Promise.all(stdout.split('\n').filter((a) => a && a !== 'busybox').map((a) => fsp.symlink('busybox', join(rootfs, 'bin', a)).catch(() => undefined)));
  await fsp.writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  await fsp.writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nusers:x:100:user\nuser:x:1000:\n');
  return { dir, rootfs };
}
