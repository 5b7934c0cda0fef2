// Disk space: `system df`, `system prune` and `builder prune`, as docker CLI 28
// (cli/command/system/{df,prune}.go, cli/command/builder/prune.go).
import type { DiskUsage, ImageSummary } from '../../client/types';
import { humanSize } from '../../base/units';
import { familiarName, tryParseReference } from '../../oci/reference';
import { StatusError, bool, str, type Cli, type Command } from '../cli';
import { FORMAT_HELP } from '../flags';
import {
  BUILD_CACHE_HEADERS, BuildCacheContext, CONTAINER_HEADERS, ContainerContext, DEFAULT_DISK_USAGE_FORMAT, DISK_USAGE_HEADERS, IMAGE_HEADERS,
  ImageContext, VOLUME_HEADERS, VolumeContext, builderSizeOf, diskUsageRows, naturalOrder, sortBuildCache,
} from '../format/contexts';
import { compileFormat, isTable, prepareFormat, renderContextRows } from '../format/formatter';
import { memBytes } from '../opts';
import { executeTemplate, filterFlag, filters, prompt } from './shared';
import { printPruneResult, pruneBuildCache, pruneContainers, pruneImages, pruneNetworks, pruneVolumes, type PruneResult } from './prune';


/**
 * The prompt of `system prune` (docker's confirmationTemplate): what will go, then the label and
 * until filters in natural order.
 */
export function systemPruneMessage(o: { all: boolean; volumes: boolean; filters: string[] }): string {
  const warnings = ['all stopped containers', 'all networks not used by at least one container'];
  if (o.volumes) warnings.push('all anonymous volumes not used by at least one container');
  warnings.push(o.all ? 'all images without at least one container associated to them' : 'all dangling images');
  warnings.push(o.all ? 'all build cache' : 'unused build cache');
  // docker lists only these filters, each value once (its filters.Args is a set), in this order, then sorted.
  const shown: string[] = [];
  for (const name of ['label', 'label!', 'until']) {
    for (const f of o.filters) {
      if (f.startsWith(`${name}=`) && !shown.includes(f)) shown.push(f);
    }
  }
  shown.sort(naturalOrder);
  let msg = `WARNING! This will remove:${warnings.map((w) => `\n  - ${w}`).join('')}\n`;
  if (shown.length) msg += `\n  Items to be pruned will be filtered with:${shown.map((f) => `\n  - ${f}`).join('')}\n`;
  return `${msg}\nAre you sure you want to continue?`;
}

const systemPrune: Command = {
  spec: {
    name: 'system prune', usage: 'system prune [OPTIONS]', description: 'Remove unused data', maxArgs: 0,
    flags: [
      { long: 'all', short: 'a', type: 'bool', help: 'Remove all unused images not just dangling ones' },
      filterFlag('Provide filter values (e.g. "label=<key>=<value>")'),
      { long: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
      { long: 'volumes', type: 'bool', help: 'Prune anonymous volumes' },
    ],
  },
  async run(cli, p) {
    const all = bool(p, 'all'), volumes = bool(p, 'volumes');
    const f = filters(p);
    if (volumes && f.some((x) => x.startsWith('until='))) throw new StatusError(1, 'ERROR: The "until" filter is not supported with "--volumes"');
    // A "no" is docker's cancelled error: nothing more printed, status 0.
    if (!bool(p, 'force') && !(await prompt(cli, systemPruneMessage({ all, volumes, filters: f })))) return 0;
    const runs: (() => Promise<PruneResult>)[] = [() => pruneContainers(cli, f), () => pruneNetworks(cli, f)];
    if (volumes) runs.push(() => pruneVolumes(cli, f));
    runs.push(() => pruneImages(cli, all, f), () => pruneBuildCache(cli, { all, filters: f }));
    let reclaimed = 0;
    for (const run of runs) {
      const r = await run();
      reclaimed += r.reclaimed;
      if (r.output) cli.out.write(`${r.output}\n`);
    }
    cli.out.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  },
};

const builderPrune: Command = {
  spec: {
    name: 'builder prune', usage: 'builder prune', description: 'Remove build cache', maxArgs: 0,
    flags: [
      { long: 'all', short: 'a', type: 'bool', help: 'Remove all unused build cache, not just dangling ones' },
      filterFlag('Provide filter values (e.g. "until=24h")'),
      { long: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
      { long: 'keep-storage', type: 'string', meta: 'bytes', validate: memBytes, help: 'Amount of disk space to keep for cache' },
    ],
  },
  async run(cli, p) {
    const all = bool(p, 'all');
    const warning = all ? 'WARNING! This will remove all build cache. Are you sure you want to continue?'
      : 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
    if (!bool(p, 'force') && !(await prompt(cli, warning))) return 0;
    // berthd takes the until filter; `all` and keep-storage are sent as docker sends them.
    printPruneResult(cli, await pruneBuildCache(cli, { all, filters: filters(p), keepStorage: Number(str(p, 'keep-storage') || 0) }));
  },
};

const DF_IMAGE_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const DF_CONTAINER_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const DF_VOLUME_FORMAT = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const DF_BUILD_CACHE_FORMAT = 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';

/** docker's isDangling: the image's only tag and digest are "<none>". */
const isDangling = (i: ImageSummary) =>
  (!i.RepoTags?.length || (i.RepoTags.length === 1 && i.RepoTags[0] === '<none>:<none>')) && (!i.RepoDigests?.length || (i.RepoDigests.length === 1 && i.RepoDigests[0] === '<none>@<none>'));

/** The objects `system df -v` lists, as docker's diskUsageContext: templates range over them; JSON is theirs. */
class DiskUsageDetail {
  constructor(readonly Images: ImageContext[], readonly Containers: ContainerContext[], readonly Volumes: VolumeContext[], readonly BuildCache: BuildCacheContext[]) {}
  toJSON(): Record<string, unknown> { return { Images: this.Images, Containers: this.Containers, Volumes: this.Volumes, BuildCache: this.BuildCache }; }
}
Object.defineProperty(DiskUsageDetail, 'name', { value: '*formatter.diskUsageContext' });

/** `system df -v`'s objects; IDs are truncated only in table output, as docker does. */
function diskUsageDetail(du: DiskUsage, trunc: boolean, now = Date.now()): DiskUsageDetail {
  const images = (du.Images ?? []).flatMap((i) => {
    let repo = '<none>', tag = '<none>';
    // Only the first tag, as docker shows it.
    if (i.RepoTags?.length && !isDangling(i)) {
      const ref = tryParseReference(i.RepoTags[0]);
      if (!ref) return [];
      if (ref.tag !== undefined) { repo = familiarName(ref); tag = ref.tag; }
    }
    // docker leaves the digest empty here.
    return [new ImageContext(i, repo, tag, '', trunc, now)];
  });
  // Containers without their virtual size, as docker shows them here.
  const containers = (du.Containers ?? []).map((c) => new ContainerContext({ ...c, SizeRootFs: 0 }, trunc, now));
  const volumes = (du.Volumes ?? []).map((v) => new VolumeContext(v));
  const cache = sortBuildCache(du.BuildCache ?? []).map((r) => new BuildCacheContext(r, trunc, now));
  return new DiskUsageDetail(images, containers, volumes, cache);
}

/** `system df -v` as tables: one per kind, each under its title. */
function verboseTables(du: DiskUsage, d: DiskUsageDetail): string {
  return `Images space usage:\n\n${renderContextRows(DF_IMAGE_FORMAT, d.Images, IMAGE_HEADERS, DF_IMAGE_FORMAT)}`
    + `\nContainers space usage:\n\n${renderContextRows(DF_CONTAINER_FORMAT, d.Containers, CONTAINER_HEADERS, DF_CONTAINER_FORMAT)}`
    + `\nLocal Volumes space usage:\n\n${renderContextRows(DF_VOLUME_FORMAT, d.Volumes, VOLUME_HEADERS, DF_VOLUME_FORMAT)}`
    + `\nBuild cache usage: ${humanSize(builderSizeOf(du.BuildCache ?? []))}\n\n${renderContextRows(DF_BUILD_CACHE_FORMAT, d.BuildCache, BUILD_CACHE_HEADERS, DF_BUILD_CACHE_FORMAT)}`;
}

const df: Command = {
  spec: {
    name: 'system df', usage: 'system df [OPTIONS]', description: 'Show berth disk usage', maxArgs: 0,
    flags: [
      { long: 'format', type: 'string', help: FORMAT_HELP },
      { long: 'verbose', short: 'v', type: 'bool', help: 'Show detailed information on space usage' },
    ],
  },
  async run(cli, p) {
    const du = await cli.client.systemDf();
    const format = str(p, 'format') || 'table';
    if (!bool(p, 'verbose')) {
      const f = format === 'raw' ? 'type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n' : format;
      cli.out.write(renderContextRows(f, diskUsageRows(du), DISK_USAGE_HEADERS, DEFAULT_DISK_USAGE_FORMAT));
      return;
    }
    const detail = diskUsageDetail(du, isTable(format));
    if (format === 'table') { cli.out.write(verboseTables(du, detail)); return; }
    // Any other format runs once over all the objects (docker's verboseWrite); a table prefix is only stripped.
    const tmpl = compileFormat(prepareFormat(format === 'json' ? '{{json .}}' : format));
    cli.out.write(executeTemplate(tmpl, detail));
  },
};

export const commands: Record<string, Command> = { df, 'system prune': systemPrune, 'builder prune': builderPrune };
