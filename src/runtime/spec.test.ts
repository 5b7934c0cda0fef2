import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isKind } from '../base/errors';
import { parseLogLine } from './logs';
import { readLogs } from './logs';
import type { SpecInput } from './runtime';
import { clampRlimits, DEFAULT_PATH_ENV, generateExecProcess, generateSpec, INIT_PATH } from './spec';
import { resolveUser } from './user';

const base: SpecInput = {
  id: 'x', rootfs: '/r', readonlyRootfs: false, args: ['sh'], env: ['A=1'], cwd: '', user: { uid: 0, gid: 0, additionalGids: [] },
  hostname: 'h', tty: false, openStdin: false, capAdd: [], capDrop: [], privileged: false, noNewPrivileges: true,
  network: { mode: 'none' }, mounts: [], cgroupsPath: '/berth/x', seccomp: { defaultAction: 'SCMP_ACT_ERRNO' },
};

test('generateSpec: Docker defaults', () => {
  const s = generateSpec(base) as any;
  assert.deepEqual(s.process.env, [DEFAULT_PATH_ENV, 'A=1']);
  assert.equal(s.process.cwd, '/');
  assert.equal(s.process.capabilities.bounding.length, 14);
  assert.equal(s.process.noNewPrivileges, true);
  assert.deepEqual(s.linux.namespaces.map((n: any) => n.type), ['pid', 'ipc', 'uts', 'mount', 'network']);
  assert.ok(s.linux.maskedPaths.includes('/proc/kcore') && s.linux.readonlyPaths.includes('/proc/sys'));
  assert.deepEqual(s.mounts.map((m: any) => m.destination), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
  assert.ok(s.mounts.find((m: any) => m.destination === '/dev/shm').options.includes('size=67108864'));
  assert.equal(s.linux.resources.devices[0].allow, false);
  assert.equal(s.linux.cgroupsPath, '/berth/x');
  assert.equal(s.hostname, 'h');
  assert.ok(s.linux.seccomp);
});

test('generateSpec: a cgroup namespace only when asked (--cgroupns private, the default on cgroup v2)', () => {
  assert.ok(!(generateSpec(base) as any).linux.namespaces.some((n: any) => n.type === 'cgroup'));
  assert.deepEqual((generateSpec({ ...base, cgroupns: true }) as any).linux.namespaces.map((n: any) => n.type), ['pid', 'ipc', 'uts', 'mount', 'network', 'cgroup']);
});

test('generateSpec: privileged, host network, init, mounts, rlimits, non-root', () => {
  const p = generateSpec({ ...base, privileged: true, network: { mode: 'host' } }) as any;
  assert.equal(p.linux.maskedPaths, undefined);
  assert.equal(p.linux.seccomp, undefined);
  assert.equal(p.process.capabilities.bounding.length, 41);
  assert.deepEqual(p.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  assert.ok(!p.linux.namespaces.some((n: any) => n.type === 'network'));
  const i = generateSpec({ ...base, init: '/usr/bin/catatonit', mounts: [{ destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }],
    rlimits: [{ type: 'nofile', soft: 1048576, hard: 1048576 }], network: { mode: 'path', path: '/run/netns/a' }, user: { uid: 1000, gid: 1000, additionalGids: [5] } },
  { hardRlimits: { RLIMIT_NOFILE: 20000 } }) as any;
  assert.deepEqual(i.process.args, [INIT_PATH, '--', 'sh']);
  assert.ok(i.mounts.some((m: any) => m.destination === INIT_PATH && m.source === '/usr/bin/catatonit'));
  assert.deepEqual(i.mounts.filter((m: any) => m.destination === '/dev/shm').map((m: any) => m.options), [['size=1m']]);
  assert.deepEqual(i.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
  assert.deepEqual(i.linux.namespaces.at(-1), { type: 'network', path: '/run/netns/a' });
  assert.deepEqual(i.process.capabilities.effective, []);
  assert.deepEqual(i.process.user, { uid: 1000, gid: 1000, additionalGids: [5] });
  assert.deepEqual(clampRlimits([{ type: 'RLIMIT_NPROC', soft: 10, hard: 20 }], {}), [{ type: 'RLIMIT_NPROC', soft: 10, hard: 20 }]);
  const e = generateExecProcess({ args: ['ls'], env: ['A=2'], cwd: '', user: { uid: 0, gid: 0, additionalGids: [] }, tty: true,
    capabilities: ['CAP_KILL'], privileged: false, noNewPrivileges: true, containerEnv: ['A=1', 'B=1'] }) as any;
  assert.deepEqual(e.env, [DEFAULT_PATH_ENV, 'A=2', 'B=1']);
  assert.equal(e.terminal, true);
});

test('resolveUser: names, ids, groups, errors, symlinks stay in the rootfs', async () => {
  const root = await fsp.mkdtemp(join(tmpdir(), 'brt-user-'));
  try {
    await fsp.mkdir(join(root, 'etc'));
    await fsp.writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
    await fsp.writeFile(join(root, 'etc/group'), 'root:x:0:\nusers:x:100:user\nstaff:x:50:\n');
    assert.deepEqual(await resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
    assert.deepEqual(await resolveUser(root, 'user'), { uid: 1000, gid: 1000, additionalGids: [100], home: '/home/user' });
    assert.deepEqual(await resolveUser(root, '1000:staff'), { uid: 1000, gid: 50, additionalGids: [], home: '/home/user' });
    assert.deepEqual(await resolveUser(root, '4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
    assert.deepEqual((await resolveUser(root, 'root', ['staff', '7'])).additionalGids, [50, 7]);
    await assert.rejects(resolveUser(root, 'nobody'), (e) => isKind(e, 'InvalidArgument') && /no matching entries in passwd file/.test((e as Error).message));
    await assert.rejects(resolveUser(root, 'user:nogroup'), (e) => isKind(e, 'InvalidArgument'));
    // /etc/passwd as an absolute symlink resolves inside the rootfs, never to the host's file.
    await fsp.rm(join(root, 'etc/passwd'));
    await fsp.symlink('/etc/../../../etc/passwd', join(root, 'etc/passwd'));
    await assert.rejects(resolveUser(root, 'user'), (e) => isKind(e, 'InvalidArgument'));
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('logs: parse, partial lines, tail, since/until, follow with stopWhen', async () => {
  assert.equal(parseLogLine(Buffer.from('garbage')), undefined);
  const dir = await fsp.mkdtemp(join(tmpdir(), 'brt-logs-'));
  const path = join(dir, 'log');
  try {
    const lines = ['2024-01-01T00:00:01.000000001Z stdout F one', '2024-01-01T00:00:02Z stderr P tw', '2024-01-01T00:00:02.5Z stderr F o',
      '2024-01-01T00:00:03Z stdout F three', ''];
    await fsp.writeFile(path, lines.join('\n'));
    const read = async (o: object) => { const r: string[] = []; for await (const e of readLogs(path, { follow: false, ...o })) r.push(`${e.stream}:${e.data}`); return r; };
    assert.deepEqual(await read({}), ['stdout:one\n', 'stderr:two\n', 'stdout:three\n']);
    assert.deepEqual(await read({ tail: 1 }), ['stdout:three\n']);
    assert.deepEqual(await read({ tail: 0 }), []);
    assert.deepEqual(await read({ since: new Date('2024-01-01T00:00:02Z'), until: new Date('2024-01-01T00:00:02.9Z') }), ['stderr:two\n']);
    let stop!: () => void;
    const stopWhen = new Promise<void>((r) => { stop = r; });
    const got: string[] = [];
    const follower = (async () => { for await (const e of readLogs(path, { follow: true, tail: 0, stopWhen })) got.push(e.data.toString()); })();
    await new Promise((r) => setTimeout(r, 50));
    await fsp.appendFile(path, '2024-01-01T00:00:04Z stdout F four\n');
    await new Promise((r) => setTimeout(r, 100));
    await fsp.appendFile(path, '2024-01-01T00:00:05Z stdout F five\n');
    stop();
    await follower;
    assert.deepEqual(got, ['four\n', 'five\n']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
