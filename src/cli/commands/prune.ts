// The prune runs of each kind, shared by the container, image, network and volume prune commands
// and `system prune` (docker's RunPrune functions, cli/command/*/prune.go). Kept apart from the
// commands so that loading one command module does not load the others.
import { humanSize } from '../../base/units';
import type { Cli } from '../cli';

/** What one prune run freed and what it prints (docker's RunPrune results). */
export interface PruneResult { reclaimed: number; output: string }

const deletedList = (title: string, items: string[] | null | undefined) => (items?.length ? `${title}:\n${items.map((i) => `${i}\n`).join('')}` : '');

/** POST /containers/prune. Space counts only when something was deleted, as docker counts it. */
export async function pruneContainers(cli: Cli, filters: string[]): Promise<PruneResult> {
  const r = await cli.client.containerPrune(filters);
  const output = deletedList('Deleted Containers', r.ContainersDeleted);
  return { reclaimed: output ? r.SpaceReclaimed ?? 0 : 0, output };
}

/** POST /networks/prune (frees no space). */
export async function pruneNetworks(cli: Cli, filters: string[]): Promise<PruneResult> {
  const r = await cli.client.networkPrune(filters);
  return { reclaimed: 0, output: deletedList('Deleted Networks', r.NetworksDeleted) };
}

/** POST /volumes/prune with the filters as given (`volume prune -a` adds all=true itself). */
export async function pruneVolumes(cli: Cli, filters: string[]): Promise<PruneResult> {
  const r = await cli.client.volumePrune(filters);
  const output = deletedList('Deleted Volumes', r.VolumesDeleted);
  return { reclaimed: output ? r.SpaceReclaimed ?? 0 : 0, output };
}

/** POST /images/prune: dangling images, or with `all` every image no container uses. */
export async function pruneImages(cli: Cli, all: boolean, filters: string[]): Promise<PruneResult> {
  const r = await cli.client.imagePrune([...filters, `dangling=${!all}`]);
  const deleted = r.ImagesDeleted?.map((d) => (d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted}`));
  const output = deletedList('Deleted Images', deleted);
  return { reclaimed: output ? r.SpaceReclaimed ?? 0 : 0, output };
}

/** POST /build/prune. */
export async function pruneBuildCache(cli: Cli, opts: { all: boolean; filters: string[]; keepStorage?: number }): Promise<PruneResult> {
  const r = await cli.client.buildCachePrune(opts);
  return { reclaimed: r.SpaceReclaimed ?? 0, output: deletedList('Deleted build cache objects', r.CachesDeleted) };
}

/** A prune command's report: what it deleted (and a blank line), then "Total reclaimed space". */
export function printPruneResult(cli: Cli, r: PruneResult): void {
  cli.out.write(`${r.output ? `${r.output}\n` : ''}Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
}
