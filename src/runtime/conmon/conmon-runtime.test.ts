import assert from 'node:assert/strict';
import { promises as fsp, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKind } from '../../base/errors';
import { DEFAULT_CAPABILITIES } from '../../security/capabilities';
import { SeccompTranslator } from '../../security/seccomp';
import { hostHardRlimits, processAlive } from '../../sys/process';
import { readLogs } from '../logs';
import type { AttachConnection, SpecInput } from '../runtime';
import { generateExecProcess, generateSpec } from '../spec';
import { makeBusyboxRootfs } from '../testing/busybox-rootfs';
import { ConmonRuntime } from './conmon-runtime';
import { startFailureExitCode } from './errors';

const seccomp = new SeccompTranslator(readFileSync('/usr/share/containers/seccomp.json', 'utf8'), { arch: process.arch, kernel: os.release() });
const CGROUP_PARENT = `berth-test-${process.pid}`;

function collect(a: AttachConnection): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const out = { stdout: '', stderr: '' };
    a.onOutput((s, d) => { out[s] += d.toString(); });
    a.onEnd(() => resolve(out));
  });
}

for (const runtimeName of ['crun', 'runc'] as const) {
  describe(`ConmonRuntime (${runtimeName})`, () => {
    let dir: string;
    let rootfs: string;
    let rt: ConmonRuntime;
    const created: Array<{ id: string; monitorPid: number }> = [];
    let n = 0;

    before(async () => {
      ({ dir, rootfs } = await makeBusyboxRootfs());
      rt = new ConmonRuntime({ runtime: runtimeName, stateDir: join(dir, 'st') });
    });

    after(async () => {
      for (const c of created) {
        await rt.delete(c.id, true).catch(() => undefined);
        await rt.cleanup(c.id);
        // conmon exits once the container is gone; give it a moment, then make sure.
        for (let i = 0; i < 50 && processAlive(c.monitorPid); i++) await new Promise((r) => setTimeout(r, 20));
        if (processAlive(c.monitorPid)) process.kill(c.monitorPid, 'SIGKILL');
      }
      for (const ctl of ['pids', 'memory', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'devices', 'freezer', 'systemd', 'unified']) {
        await fsp.rmdir(`/sys/fs/cgroup/${ctl}/${CGROUP_PARENT}`).catch(() => undefined);
      }
      await fsp.rm(dir, { recursive: true, force: true });
    });

    async function setup(args: string[], extra: Partial<SpecInput> = {}, createExtra: { tty?: boolean; openStdin?: boolean } = {}) {
      const id = `${runtimeName}-${process.pid}-${++n}`;
      const bundleDir = join(dir, 'bundles', id);
      await fsp.mkdir(bundleDir, { recursive: true });
      const input: SpecInput = {
        id, rootfs, readonlyRootfs: false, args, env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] },
        hostname: 'box', tty: !!createExtra.tty, openStdin: !!createExtra.openStdin, capAdd: [], capDrop: [], privileged: false,
        noNewPrivileges: true, network: { mode: 'none' }, mounts: [], cgroupsPath: `/${CGROUP_PARENT}/${id}`,
        seccomp: seccomp.forCapabilities(DEFAULT_CAPABILITIES), ...extra,
      };
      await fsp.writeFile(join(bundleDir, 'config.json'), JSON.stringify(generateSpec(input, { hardRlimits: hostHardRlimits() })));
      const logPath = join(bundleDir, 'ctr.log');
      const c = await rt.create({ id, bundleDir, tty: !!createExtra.tty, openStdin: !!createExtra.openStdin, stdinOnce: true, log: { path: logPath } });
      created.push({ id, monitorPid: c.monitorPid });
      return { id, bundleDir, logPath, ...c };
    }

    async function runToEnd(args: string[], extra: Partial<SpecInput> = {}) {
      const c = await setup(args, extra);
      const a = await rt.attach(c.id, c.bundleDir);
      const out = collect(a);
      await rt.start(c.id);
      const st = await rt.waitExit(c.id);
      return { ...c, ...(await out), status: st };
    }

    test('output via attach and log, exit codes, measured floor', async () => {
      const t0 = performance.now();
      const t = await runToEnd(['true']);
      const ms = performance.now() - t0;
      assert.equal(t.status.exitCode, 0);
      console.log(`# ${runtimeName}: create+attach+start+exit of true: ${ms.toFixed(1)} ms`);
      const r = await runToEnd(['sh', '-c', 'echo out; echo err >&2; printf partial; exit 3']);
      assert.equal(r.status.exitCode, 3);
      assert.equal(r.stdout, 'out\npartial');
      assert.equal(r.stderr, 'err\n');
      const entries = [];
      for await (const e of readLogs(r.logPath, { follow: false })) entries.push(e);
      assert.deepEqual(entries.map((e) => [e.stream, e.data.toString()]).sort(), [['stderr', 'err\n'], ['stdout', 'out\n'], ['stdout', 'partial']]);
      assert.equal(rt.exitStatus(r.id)?.exitCode, 3);
    });

    test('no output lost at exit (repeated)', async () => {
      for (let i = 0; i < 5; i++) {
        const r = await runToEnd(['sh', '-c', 'echo a; seq 1 300; echo last']);
        assert.ok(r.stdout.endsWith('300\nlast\n'), `run ${i}: ${JSON.stringify(r.stdout.slice(-20))}`);
        assert.equal(r.stdout.length, 'a\n'.length + Array.from({ length: 300 }, (_, k) => `${k + 1}\n`).join('').length + 'last\n'.length);
      }
    });

    test('kill gives 137; pause/resume; pids from the cgroup; wait from another instance', async () => {
      const c = await setup(['sleep', '100']);
      await rt.start(c.id);
      const pids = await rt.pids(c.id);
      assert.ok(pids.includes(c.pid), `${pids} should include ${c.pid}`);
      const cg = readFileSync(`/proc/${c.pid}/cgroup`, 'utf8');
      assert.match(cg, new RegExp(`/${CGROUP_PARENT}/${c.id}`));
      await rt.pause(c.id);
      assert.match(readFileSync(`/proc/${c.pid}/status`, 'utf8'), /State:\s+[DST]/);
      await rt.resume(c.id);
      // A second instance stands for berthd after a restart.
      const rt2 = new ConmonRuntime({ runtime: runtimeName, stateDir: join(dir, 'st') });
      assert.equal(rt2.exitStatus(c.id), undefined);
      const waiting = rt2.waitExit(c.id);
      await rt.kill(c.id, 'SIGKILL');
      const st = await waiting;
      assert.equal(st.exitCode, 137);
      await assert.rejects(rt.kill(c.id, 'KILL'), (e) => isKind(e, 'FailedPrecondition') || isKind(e, 'NotFound'));
      await rt.delete(c.id, false);
      await rt.delete(c.id, false); // no-op when gone
      await assert.rejects(rt.start(c.id), (e) => isKind(e, 'NotFound'));
    });

    test('waitExit can be aborted', async () => {
      const c = await setup(['sleep', '100']);
      await rt.start(c.id);
      const ac = new AbortController();
      const w = rt.waitExit(c.id, ac.signal);
      ac.abort();
      await assert.rejects(w, (e) => isKind(e, 'Canceled'));
      await rt.kill(c.id, 9);
      assert.equal((await rt.waitExit(c.id)).exitCode, 137);
    });

    test('stdin via attach', async () => {
      const c = await setup(['cat'], {}, { openStdin: true });
      const a = await rt.attach(c.id, c.bundleDir);
      const out = collect(a);
      await rt.start(c.id);
      a.writeStdin(Buffer.from('hello stdin\n'));
      a.closeStdin();
      assert.equal((await out).stdout, 'hello stdin\n');
      assert.equal((await rt.waitExit(c.id)).exitCode, 0);
    });

    test('tty mode and resize', async () => {
      const c = await setup(['sh', '-c', 'sleep 0.3; stty size; tty'], {}, { tty: true });
      const a = await rt.attach(c.id, c.bundleDir);
      const out = collect(a);
      await rt.start(c.id);
      rt.resize(c.id, c.bundleDir, 33, 101);
      const o = await out;
      assert.match(o.stdout, /33 101\r\n/);
      assert.match(o.stdout, /\/dev\/pts\/0/);
      assert.equal((await rt.waitExit(c.id)).exitCode, 0);
    });

    test('exec: output, exit code, tty, detached, missing binary', async () => {
      const c = await setup(['sleep', '100']);
      await rt.start(c.id);
      const proc = (args: string[], tty = false) => generateExecProcess({
        args, env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, tty, capabilities: [...DEFAULT_CAPABILITIES],
        privileged: false, noNewPrivileges: true,
      });
      const s = await rt.exec(c.id, c.bundleDir, { process: proc(['sh', '-c', 'echo exec-out; echo exec-err >&2; grep NoNewPrivs /proc/self/status; exit 7']), tty: false, stdin: false, detach: false });
      assert.ok(s.pid());
      const o = await collect(s.attach!);
      assert.equal(await s.exit, 7);
      assert.equal(o.stdout, 'exec-out\nNoNewPrivs:\t1\n');
      assert.equal(o.stderr, 'exec-err\n');

      const t = await rt.exec(c.id, c.bundleDir, { process: proc(['tty'], true), tty: true, stdin: false, detach: false });
      const to = await collect(t.attach!);
      assert.equal(await t.exit, 0);
      assert.match(to.stdout, /\/dev\/pts\/\d+/);

      const d = await rt.exec(c.id, c.bundleDir, { process: proc(['sh', '-c', 'touch /tmp/detached']), tty: false, stdin: false, detach: true });
      assert.equal(d.attach, undefined);
      assert.equal(await d.exit, 0);
      assert.ok(existsSync(join(rootfs, 'tmp/detached')));

      const i = await rt.exec(c.id, c.bundleDir, { process: proc(['cat']), tty: false, stdin: true, detach: false });
      const io = collect(i.attach!);
      i.attach!.writeStdin(Buffer.from('via exec stdin'));
      i.attach!.closeStdin();
      assert.equal((await io).stdout, 'via exec stdin');
      assert.equal(await i.exit, 0);

      const bad = rt.exec(c.id, c.bundleDir, { process: proc(['/nonexistent']), tty: false, stdin: false, detach: false });
      await assert.rejects(bad, (e) => isKind(e, 'InvalidArgument') && startFailureExitCode(e) === 127);
      await rt.kill(c.id, 'KILL');
      await rt.waitExit(c.id);
    });

    test('missing executable fails create or start with exit code 127', async () => {
      let err: unknown;
      try {
        const c = await setup(['/does-not-exist']);
        await rt.start(c.id);
      } catch (e) { err = e; }
      assert.ok(isKind(err, 'InvalidArgument'), String(err));
      assert.equal(startFailureExitCode(err), 127);
    });

    test('security: caps dropped, no-new-privileges, seccomp, read-only rootfs, user', async () => {
      const r = await runToEnd(['sh', '-c', 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; touch /x 2>/dev/null && echo writable || echo readonly; id -u'],
        { readonlyRootfs: true, capDrop: ['NET_RAW', 'chown'] });
      const caps = computeMask(DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_NET_RAW' && c !== 'CAP_CHOWN'));
      assert.match(r.stdout, new RegExp(`CapEff:\\s+${caps}`));
      assert.match(r.stdout, new RegExp(`CapBnd:\\s+${caps}`));
      assert.match(r.stdout, /NoNewPrivs:\s+1/);
      assert.match(r.stdout, /Seccomp:\s+2/);
      assert.match(r.stdout, /readonly/);
      assert.equal(r.status.exitCode, 0);
      const u = await runToEnd(['sh', '-c', 'id -u; grep CapEff /proc/self/status'], { user: { uid: 1000, gid: 1000, additionalGids: [100] } });
      assert.match(u.stdout, /^1000\nCapEff:\s+0+\n$/);
    });
  });
}

/** The CapEff hex mask of a set of capabilities. */
function computeMask(caps: readonly string[]): string {
  const all = ['CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
    'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
    'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
    'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP'];
  let mask = 0n;
  for (const c of caps) mask |= 1n << BigInt(all.indexOf(c.replace(/^CAP_/, '')));
  return mask.toString(16).padStart(16, '0');
}
