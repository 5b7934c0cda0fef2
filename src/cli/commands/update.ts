// `berth update` / `berth container update`, as docker CLI 28 (cli/command/container/update.go).
import type { ContainerUpdateRequest } from '../../client/types';
import { StatusError, int, str, type Command } from '../cli';
import type { Parsed } from '../flags';
import { memBytes, memSwapBytes, nanoCPUs, parseRestartPolicy, uint16 } from '../opts';
import { daemonMessage } from './shared';

/**
 * The UpdateConfig docker sends: every resource field (zero leaves the container's value as it is)
 * and the restart policy (an empty name leaves it as it is); PidsLimit only when set.
 */
function updateRequest(p: Parsed): ContainerUpdateRequest {
  let restart;
  try { restart = parseRestartPolicy(str(p, 'restart')); } catch (e) { throw new StatusError(1, (e as Error).message); }
  const n = (k: string) => Number(str(p, k) || 0);
  const body: ContainerUpdateRequest = {
    BlkioWeight: n('blkio-weight'), CpusetCpus: str(p, 'cpuset-cpus'), CpusetMems: str(p, 'cpuset-mems'), CpuShares: int(p, 'cpu-shares'),
    Memory: n('memory'), MemoryReservation: n('memory-reservation'), MemorySwap: n('memory-swap'), KernelMemory: n('kernel-memory'),
    CpuPeriod: int(p, 'cpu-period'), CpuQuota: int(p, 'cpu-quota'), CpuRealtimePeriod: int(p, 'cpu-rt-period'), CpuRealtimeRuntime: int(p, 'cpu-rt-runtime'),
    NanoCpus: n('cpus'),
  };
  if (int(p, 'pids-limit') !== 0) body.PidsLimit = int(p, 'pids-limit');
  body.RestartPolicy = restart as ContainerUpdateRequest['RestartPolicy'];
  return body;
}

const update: Command = {
  spec: {
    name: 'update', usage: 'update [OPTIONS] CONTAINER [CONTAINER...]', description: 'Update configuration of one or more containers', minArgs: 1,
    aliases: ['container update', 'update'],
    flags: [
      { long: 'blkio-weight', type: 'string', meta: 'uint16', validate: uint16, help: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
      { long: 'cpu-period', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) period' },
      { long: 'cpu-quota', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
      { long: 'cpu-rt-period', type: 'int', help: 'Limit the CPU real-time period in microseconds' },
      { long: 'cpu-rt-runtime', type: 'int', help: 'Limit the CPU real-time runtime in microseconds' },
      { long: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight)' },
      { long: 'cpus', type: 'string', meta: 'decimal', validate: nanoCPUs, help: 'Number of CPUs' },
      { long: 'cpuset-cpus', type: 'string', help: 'CPUs in which to allow execution (0-3, 0,1)' },
      { long: 'cpuset-mems', type: 'string', help: 'MEMs in which to allow execution (0-3, 0,1)' },
      // Hidden in docker too: runc no longer supports kernel memory limits.
      { long: 'kernel-memory', type: 'string', meta: 'bytes', validate: memBytes, help: 'Kernel memory limit (deprecated)', hidden: true },
      { long: 'memory', short: 'm', type: 'string', meta: 'bytes', validate: memBytes, help: 'Memory limit' },
      { long: 'memory-reservation', type: 'string', meta: 'bytes', validate: memBytes, help: 'Memory soft limit' },
      { long: 'memory-swap', type: 'string', meta: 'bytes', validate: memSwapBytes, help: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
      { long: 'pids-limit', type: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
      { long: 'restart', type: 'string', help: 'Restart policy to apply when a container exits' },
    ],
  },
  async run(cli, p) {
    if (!p.changed.size) throw new StatusError(1, 'you must provide one or more flags when using this command');
    const body = updateRequest(p);
    // As docker: each container's name on success, then every warning, then the errors (exit 1).
    const warnings: string[] = [];
    const errs: string[] = [];
    for (const c of p.args) {
      try {
        const r = await cli.client.containerUpdate(c, body);
        cli.print(c);
        warnings.push(...(r?.Warnings ?? []));
      } catch (e) { errs.push(daemonMessage(e)); }
    }
    if (warnings.length) cli.print(warnings.join('\n'));
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};

export const commands: Record<string, Command> = { update };
