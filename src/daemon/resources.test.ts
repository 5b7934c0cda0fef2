import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKind } from '../base/errors';
import type { HostResources } from '../sys/cgroups';
import { adaptResources, applyUpdate, cgroupnsMode, checkResources, resourceLimitsOf, rlimitsOf } from './resources';

const host: HostResources = { cgroupVersion: 1, cpus: 2, cpusetCpus: '0-1', cpusetMems: '0', memoryTotal: 8 * 2 ** 30, swapLimit: true, blkioWeight: false, oomKillDisable: true, memorySwappiness: true };
const MB = 1024 * 1024;

test('checkResources: Docker\'s errors as InvalidArgument', () => {
  const bad: Array<[object, RegExp]> = [
    [{ Memory: MB }, /Minimum memory limit allowed is 6MB/],
    [{ Memory: 16 * MB, MemorySwap: 8 * MB }, /Minimum memoryswap limit should be larger than memory limit/],
    [{ MemorySwap: 8 * MB }, /always set the Memory limit/],
    [{ Memory: 8 * MB, MemoryReservation: 16 * MB }, /can not be less than memory reservation/],
    [{ NanoCpus: 3e9 }, /Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/],
    [{ NanoCpus: 1e9, CpuPeriod: 100000 }, /Nano CPUs and CPU Period/],
    [{ CpuPeriod: 10 }, /CPU cfs period/],
    [{ CpuQuota: 10 }, /CPU cfs quota/],
    [{ CpusetCpus: '0-3' }, /Requested CPUs are not available - requested 0-3, available: 0-1/],
    [{ CpusetCpus: 'a' }, /Invalid value a for cpuset cpus/],
    [{ CpusetMems: '1' }, /Requested memory nodes are not available/],
    [{ BlkioWeight: 5 }, /Range of blkio weight/],
    [{ ShmSize: -1 }, /SHM size/],
    [{ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] }, /soft limit/],
  ];
  for (const [r, msg] of bad) {
    assert.throws(() => checkResources(r, host), (e: unknown) => isKind(e, 'InvalidArgument') && msg.test((e as Error).message), JSON.stringify(r));
  }
  assert.deepEqual(checkResources({ Memory: 16 * MB, CpusetCpus: '0,1', NanoCpus: 5e8 }, host), []);
  assert.equal(checkResources({ BlkioWeight: 300 }, host).length, 1); // dropped with Docker's warning
});

test('resourceLimitsOf: --cpus as a CFS quota, swap defaulting to twice memory, host-unsupported values left out', () => {
  const h: Record<string, unknown> = { Memory: 16 * MB, NanoCpus: 5e8, PidsLimit: 20, BlkioWeight: 300, CpuShares: 512 };
  adaptResources(h, host);
  assert.equal(h.MemorySwap, 32 * MB);
  assert.deepEqual(resourceLimitsOf(h, host), { memory: 16 * MB, memorySwap: 32 * MB, cpuShares: 512, cpuPeriod: 100000, cpuQuota: 50000, pidsLimit: 20 });
  assert.deepEqual(resourceLimitsOf({ PidsLimit: -1, MemorySwap: -1 }, { ...host, swapLimit: false }), {});
  assert.deepEqual(rlimitsOf({ Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }] }), [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }]);
  // What the kernel cannot apply is dropped from the stored HostConfig too (moby), so inspect shows 0/false.
  assert.equal(h.BlkioWeight, 0);
  const v2: Record<string, unknown> = { Memory: 16 * MB, OomKillDisable: true, BlkioWeight: 300 };
  assert.deepEqual(checkResources(v2, { ...host, oomKillDisable: false, blkioWeight: true }), ['Your kernel does not support OomKillDisable. OomKillDisable discarded.']);
  adaptResources(v2, { ...host, oomKillDisable: false, blkioWeight: true });
  assert.equal(v2.OomKillDisable, false);
  assert.equal(v2.BlkioWeight, 300);
  assert.equal(resourceLimitsOf(v2, { ...host, oomKillDisable: false, blkioWeight: true }).oomKillDisable, undefined);
  // Regression (found on a live cgroup v2 host): --memory-swappiness reached crun, which failed the
  // start ("cannot set memory swappiness with cgroupv2"); moby drops it with a warning.
  const sw: Record<string, unknown> = { Memory: 16 * MB, MemorySwappiness: 50 };
  const noSwappiness = { ...host, oomKillDisable: false, memorySwappiness: false };
  assert.deepEqual(checkResources(sw, noSwappiness),
    ['Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.']);
  assert.equal(resourceLimitsOf(sw, noSwappiness).memorySwappiness, undefined);
  adaptResources(sw, noSwappiness);
  assert.equal(sw.MemorySwappiness, null);
  assert.deepEqual(checkResources({ Memory: 16 * MB }, noSwappiness), [], 'no swappiness asked: no warning');
  // The docker CLI sends -1 without --memory-swappiness: no warning for that either (it was
  // printed on every docker run on a v2 host).
  assert.deepEqual(checkResources({ Memory: 16 * MB, MemorySwappiness: -1 }, noSwappiness), []);
  assert.equal(resourceLimitsOf({ MemorySwappiness: 50 }, host).memorySwappiness, 50);
  assert.deepEqual(checkResources({ OomKillDisable: true }, host), ['OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.']);
});

test('cgroupnsMode: Docker\'s default by cgroup version, an explicit mode kept, others refused', () => {
  // Regression (found on a live cgroup v2 host): containers had no cgroup namespace there and saw
  // the host's root at /sys/fs/cgroup ("0::/berth/<id>" in /proc/self/cgroup, no memory.max).
  assert.equal(cgroupnsMode(undefined, { ...host, cgroupVersion: 2 }), 'private');
  assert.equal(cgroupnsMode('', { ...host, cgroupVersion: 2 }), 'private');
  assert.equal(cgroupnsMode(undefined, host), 'host');
  assert.equal(cgroupnsMode('host', { ...host, cgroupVersion: 2 }), 'host');
  assert.equal(cgroupnsMode('private', host), 'private');
  assert.throws(() => cgroupnsMode('shared', host), (e: unknown) => isKind(e, 'InvalidArgument') && /invalid cgroup namespace mode: shared/.test((e as Error).message));
});

test('applyUpdate: zeros leave fields alone; only touched limits go to the runtime', () => {
  const cur = { Memory: 32 * MB, MemorySwap: 64 * MB, PidsLimit: 20, CpuShares: 512 };
  const u = applyUpdate(cur, { Memory: 48 * MB, PidsLimit: 50, CpuShares: 0, NanoCpus: 0, CpusetCpus: '' }, host);
  assert.deepEqual(u.limits, { memory: 48 * MB, memorySwap: 64 * MB, pidsLimit: 50 });
  assert.equal(u.hostConfig.CpuShares, 512);
  assert.equal(u.hostConfig.Memory, 48 * MB);
  assert.throws(() => applyUpdate(cur, { Memory: 128 * MB }, host), /update the memoryswap at the same time/);
  assert.throws(() => applyUpdate(cur, { Memory: MB }, host), /Minimum memory limit/);
  assert.deepEqual(applyUpdate(cur, { PidsLimit: -1 }, host).limits, { pidsLimit: -1 });
});

test('applyUpdate: --cpus against --cpu-period/--cpu-quota, in one update and across updates, as moby', () => {
  assert.throws(() => applyUpdate({}, { NanoCpus: 5e8, CpuPeriod: 100000 }, host), /Nano CPUs and CPU Period cannot both be set/);
  assert.throws(() => applyUpdate({}, { NanoCpus: 5e8, CpuQuota: 50000 }, host), /Nano CPUs and CPU Quota cannot both be set/);
  assert.throws(() => applyUpdate({ CpuPeriod: 50000 }, { NanoCpus: 5e8 }, host), /Nano CPUs cannot be updated as CPU Period has already been set/);
  assert.throws(() => applyUpdate({ NanoCpus: 5e8 }, { CpuQuota: 20000 }, host), /CPU Quota cannot be updated as NanoCPUs has already been set/);
  assert.deepEqual(applyUpdate({ NanoCpus: 5e8 }, { NanoCpus: 1e9 }, host).limits, { cpuPeriod: 100000, cpuQuota: 100000 });
});

test('applyUpdate: the revert holds the current values of what the update touches, unlimited spelled out', () => {
  const u = applyUpdate({ Memory: 32 * MB, MemorySwap: 64 * MB, NanoCpus: 5e8 }, { Memory: 16 * MB, NanoCpus: 1e9, CpusetCpus: '1', PidsLimit: 10 }, host);
  assert.deepEqual(u.revert, { memory: 32 * MB, memorySwap: 64 * MB, cpuPeriod: 100000, cpuQuota: 50000, cpusetCpus: '0-1', pidsLimit: -1 });
  assert.deepEqual(applyUpdate({}, { Memory: 16 * MB, CpuShares: 512 }, host).revert, { memory: -1, memorySwap: -1, cpuShares: 1024 });
});
