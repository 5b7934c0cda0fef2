import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpecInput } from './runtime';
import { ociResources } from './resources';
import { generateSpec } from './spec';

const base: SpecInput = {
  id: 'x', rootfs: '/r', readonlyRootfs: false, args: ['sh'], env: [], cwd: '', user: { uid: 0, gid: 0, additionalGids: [] },
  hostname: 'h', tty: false, openStdin: false, capAdd: [], capDrop: [], privileged: false, noNewPrivileges: false,
  network: { mode: 'none' }, mounts: [], cgroupsPath: '/berth/x', seccomp: null,
};

test('ociResources: each limit to its OCI member; absent and zero values left out', () => {
  assert.deepEqual(ociResources({}), {});
  assert.deepEqual(ociResources({ memory: 0, cpuShares: 0, pidsLimit: 0 }), {});
  assert.deepEqual(ociResources({
    memory: 16 << 20, memorySwap: 32 << 20, memoryReservation: 8 << 20, memorySwappiness: 0, oomKillDisable: true,
    cpuShares: 512, cpuPeriod: 100000, cpuQuota: 50000, cpusetCpus: '0', cpusetMems: '0', pidsLimit: 20, blkioWeight: 300,
  }), {
    memory: { limit: 16 << 20, swap: 32 << 20, reservation: 8 << 20, swappiness: 0, disableOOMKiller: true },
    cpu: { shares: 512, period: 100000, quota: 50000, cpus: '0', mems: '0' },
    pids: { limit: 20 },
    blockIO: { weight: 300 },
  });
  assert.deepEqual(ociResources({ pidsLimit: -1, memorySwap: -1 }), { memory: { swap: -1 }, pids: { limit: -1 } });
});

test('generateSpec: resources beside the device rules, shm size, clamped rlimits', () => {
  const s = generateSpec({ ...base, resources: { memory: 1 << 24, pidsLimit: 20 }, shmSize: 8 << 20,
    rlimits: [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 1048576 }] }, { hardRlimits: { RLIMIT_NOFILE: 20000 } }) as any;
  assert.equal(s.linux.resources.devices[0].allow, false);
  assert.deepEqual(s.linux.resources.memory, { limit: 1 << 24 });
  assert.deepEqual(s.linux.resources.pids, { limit: 20 });
  const shm = s.mounts.find((m: any) => m.destination === '/dev/shm');
  assert.ok(shm.options.includes(`size=${8 << 20}`) && !shm.options.includes('size=67108864'));
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 20000 }]);
  const plain = generateSpec(base) as any;
  assert.deepEqual(Object.keys(plain.linux.resources), ['devices']);
});
