// `berth volume ...`: create, ls, inspect, rm, prune and update, with docker CLI 28's grammar and output
// (cli/command/volume).
import type { Volume, VolumeCreateRequest } from '../../client/types';
import { StatusError, bool, list, str, type Command } from '../cli';
import { CLUSTER_VOLUME_FORMAT, DEFAULT_VOLUME_FORMAT, naturalOrder, VOLUME_HEADERS, VolumeContext } from '../format/contexts';
import { goMap, goStruct } from '../format/go-values';
import { renderContextRows } from '../format/formatter';
import { FORMAT_HELP, INSPECT_FORMAT_HELP, type FlagSpec, type Parsed } from '../flags';
import { kvMap, memBytes, validateLabel } from '../opts';
import { confirm, filterFlag, filters, forEachArg, inspectEach } from './shared';
import { printPruneResult, pruneVolumes } from './prune';


/**
 * The cluster-volume (swarm) options of `volume create`: docker sends a ClusterVolumeSpec when one is
 * set, and hides them from help unless the engine is a swarm manager (berthd never is).
 */
const CLUSTER_FLAGS: FlagSpec[] = ([
  { long: 'availability', type: 'string', def: 'active', help: 'Cluster Volume availability ("active", "pause", "drain")' },
  { long: 'group', type: 'string', help: 'Cluster Volume group (cluster volumes)' },
  { long: 'limit-bytes', type: 'string', meta: 'bytes', help: 'Minimum size of the Cluster Volume in bytes', validate: memBytes },
  { long: 'required-bytes', type: 'string', meta: 'bytes', help: 'Maximum size of the Cluster Volume in bytes', validate: memBytes },
  { long: 'scope', type: 'string', def: 'single', help: 'Cluster Volume access scope ("single", "multi")' },
  { long: 'secret', type: 'list', meta: 'map', defaultText: 'map[]', help: 'Cluster Volume secrets' },
  { long: 'sharing', type: 'string', def: 'none', help: 'Cluster Volume access sharing ("none", "readonly", "onewriter", "all")' },
  { long: 'topology-preferred', type: 'list', help: 'A topology that the Cluster Volume would be preferred in' },
  { long: 'topology-required', type: 'list', help: 'A topology that the Cluster Volume must be accessible from' },
  { long: 'type', type: 'string', def: 'block', help: 'Cluster Volume access type ("mount", "block")' },
] as FlagSpec[]).map((f) => ({ ...f, hidden: true }));

/**
 * The VolumeCreate body from `volume create` flags, as docker's runCreate builds it. Cluster options
 * count only when changed (docker checks "secrets", a name no flag has, so --secret alone does not).
 */
export function volumeCreateRequest(p: Parsed): VolumeCreateRequest & { ClusterVolumeSpec?: unknown } {
  let name = str(p, 'name');
  if (p.args.length === 1) {
    if (name) throw new StatusError(1, 'conflicting options: cannot specify a volume-name through both --name and as a positional arg');
    name = p.args[0];
  }
  // Go's json leaves out empty fields of volume.CreateOptions (all omitempty).
  const body: VolumeCreateRequest & { ClusterVolumeSpec?: unknown } = {};
  const cluster = ['group', 'scope', 'sharing', 'availability', 'type', 'limit-bytes', 'required-bytes'].some((f) => p.changed.has(f));
  if (cluster) {
    const topology = (values: string[]) => values.map((t) => ({ Segments: kvMap(t.split(',')) }));
    const secrets = Object.entries(kvMap(list(p, 'secret'))).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([Key, Secret]) => ({ Key, Secret }));
    const range: Record<string, number> = {};
    if (str(p, 'required-bytes')) range.RequiredBytes = Number(str(p, 'required-bytes'));
    if (str(p, 'limit-bytes')) range.LimitBytes = Number(str(p, 'limit-bytes'));
    const accessMode: Record<string, unknown> = { Scope: str(p, 'scope'), Sharing: str(p, 'sharing') };
    if (str(p, 'type') === 'mount') accessMode.MountVolume = {};
    else if (str(p, 'type') === 'block') accessMode.BlockVolume = {};
    const topo: Record<string, unknown> = {};
    if (list(p, 'topology-required').length) topo.Requisite = topology(list(p, 'topology-required'));
    if (list(p, 'topology-preferred').length) topo.Preferred = topology(list(p, 'topology-preferred'));
    body.ClusterVolumeSpec = {
      ...(str(p, 'group') ? { Group: str(p, 'group') } : {}),
      AccessMode: accessMode,
      AccessibilityRequirements: topo,
      CapacityRange: range,
      ...(secrets.length ? { Secrets: secrets } : {}),
      Availability: str(p, 'availability'),
    };
  }
  const driver = str(p, 'driver'), opts = kvMap(list(p, 'opt')), labels = kvMap(list(p, 'label'));
  if (driver) body.Driver = driver;
  if (Object.keys(opts).length) body.DriverOpts = opts;
  if (Object.keys(labels).length) body.Labels = labels;
  if (name) body.Name = name;
  return body;
}

const create: Command = {
  spec: {
    name: 'volume create', usage: 'volume create [OPTIONS] [VOLUME]', description: 'Create a volume', maxArgs: 1,
    flags: [
      ...CLUSTER_FLAGS.slice(0, 1),
      { long: 'driver', short: 'd', type: 'string', def: 'local', help: 'Specify volume driver name' },
      ...CLUSTER_FLAGS.slice(1, 2),
      { long: 'label', type: 'list', help: 'Set metadata for a volume', validate: validateLabel },
      ...CLUSTER_FLAGS.slice(2, 3),
      { long: 'name', type: 'string', help: 'Specify volume name', hidden: true },
      { long: 'opt', short: 'o', type: 'list', meta: 'map', defaultText: 'map[]', help: 'Set driver specific options' },
      ...CLUSTER_FLAGS.slice(3),
    ],
  },
  async run(cli, p) {
    const vol = await cli.client.volumeCreate(volumeCreateRequest(p));
    cli.print(vol.Name);
  },
};

/** The volumes `volume ls` prints, in docker's order, and the format it uses. */
export function volumeListing(volumes: Volume[], opts: { format: string; quiet: boolean; cluster: boolean }): { rows: VolumeContext[]; format: string } {
  let format = opts.format;
  let vols = volumes;
  if (opts.cluster) {
    vols = vols.filter((v) => v.ClusterVolume);
    format = opts.quiet ? 'table' : CLUSTER_VOLUME_FORMAT;
  } else if (!format) format = 'table';
  // docker's NewVolumeFormat: "table" with -q is the bare name list; "raw" is its key: value form.
  if (format === 'table') format = opts.quiet ? '{{.Name}}' : DEFAULT_VOLUME_FORMAT;
  else if (format === 'raw') format = opts.quiet ? 'name: {{.Name}}' : 'name: {{.Name}}\\ndriver: {{.Driver}}\\n';
  const sorted = [...vols].sort((a, b) => naturalOrder(a.Name, b.Name));
  return { rows: sorted.map((v) => new VolumeContext(v)), format };
}

const ls: Command = {
  spec: {
    name: 'volume ls', usage: 'volume ls [OPTIONS]', description: 'List volumes', maxArgs: 0, aliases: ['volume ls', 'volume list'],
    flags: [
      { long: 'cluster', type: 'bool', help: 'Display only cluster volumes, and use cluster volume list formatting', hidden: true },
      filterFlag('Provide filter values (e.g. "dangling=true")', 'f'),
      { long: 'format', type: 'string', help: FORMAT_HELP },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Only display volume names' },
    ],
  },
  async run(cli, p) {
    const res = await cli.client.volumeList(filters(p));
    const { rows, format } = volumeListing(res.Volumes ?? [], { format: str(p, 'format'), quiet: bool(p, 'quiet'), cluster: bool(p, 'cluster') });
    cli.out.write(renderContextRows(format, rows, VOLUME_HEADERS, DEFAULT_VOLUME_FORMAT));
  },
};

/** moby's volume.Volume as the docker CLI decodes it: templates see its fields, JSON keeps its tags. */
export function volumeView(v: Volume): unknown {
  return goStruct('volume.Volume', {
    ClusterVolume: v.ClusterVolume ?? null,
    CreatedAt: v.CreatedAt ?? '',
    Driver: v.Driver ?? '',
    Labels: goMap(v.Labels, ''),
    Mountpoint: v.Mountpoint ?? '',
    Name: v.Name ?? '',
    Options: goMap(v.Options, ''),
    Scope: v.Scope ?? '',
    Status: goMap(v.Status as Record<string, unknown> | null | undefined),
    UsageData: v.UsageData ? goStruct('volume.UsageData', { RefCount: v.UsageData.RefCount, Size: v.UsageData.Size }) : null,
  }, { omitempty: ['ClusterVolume', 'CreatedAt', 'Status', 'UsageData'] });
}

const inspect: Command = {
  spec: {
    name: 'volume inspect', usage: 'volume inspect [OPTIONS] VOLUME [VOLUME...]', description: 'Display detailed information on one or more volumes', minArgs: 1,
    flags: [{ long: 'format', short: 'f', type: 'string', help: INSPECT_FORMAT_HELP }],
  },
  async run(cli, p) {
    // The docker CLI decodes the volume into its Go type and prints that (not the raw answer).
    await inspectEach(cli, p.args, str(p, 'format'), async (name) => ({ typed: volumeView(await cli.client.volumeInspect(name)) }));
  },
};

const rm: Command = {
  spec: {
    name: 'volume rm', usage: 'volume rm [OPTIONS] VOLUME [VOLUME...]', description: 'Remove one or more volumes',
    long: 'Remove one or more volumes. You cannot remove a volume that is in use by a container.', minArgs: 1, aliases: ['volume rm', 'volume remove'],
    flags: [{ long: 'force', short: 'f', type: 'bool', help: 'Force the removal of one or more volumes' }],
  },
  async run(cli, p) {
    await forEachArg(cli, p.args, (name) => cli.client.volumeRemove(name, bool(p, 'force')));
  },
};

const UNUSED_WARNING = 'WARNING! This will remove anonymous local volumes not used by at least one container.';
const ALL_WARNING = 'WARNING! This will remove all local volumes not used by at least one container.';

/** The prune filters and prompt of `volume prune`; -a is the filter all=true (API 1.42+). */
export function volumePrunePlan(p: Parsed): { filters: string[]; warning: string } {
  const f = filters(p);
  if (!bool(p, 'all')) return { filters: f, warning: UNUSED_WARNING };
  if (f.some((x) => x.startsWith('all='))) throw new StatusError(1, 'conflicting options: cannot specify both --all and --filter all=1');
  return { filters: [...f, 'all=true'], warning: ALL_WARNING };
}

const prune: Command = {
  spec: {
    name: 'volume prune', usage: 'volume prune [OPTIONS]', description: 'Remove unused local volumes', maxArgs: 0,
    flags: [
      { long: 'all', short: 'a', type: 'bool', help: 'Remove all unused volumes, not just anonymous ones' },
      filterFlag('Provide filter values (e.g. "label=<label>")'),
      { long: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    ],
  },
  async run(cli, p) {
    const plan = volumePrunePlan(p);
    // A "no" is docker's cancelled error: nothing more printed, status 0.
    if (!bool(p, 'force') && !(await confirm(cli, plan.warning))) return 0;
    printPruneResult(cli, await pruneVolumes(cli, plan.filters));
  },
};

const update: Command = {
  spec: {
    name: 'volume update', usage: 'volume update [OPTIONS] [VOLUME]', description: 'Update a volume (cluster volumes only)', minArgs: 1, maxArgs: 1, hidden: true,
    flags: [CLUSTER_FLAGS[0]],
  },
  async run(cli, p) {
    const vol = await cli.client.volumeInspect(p.args[0]);
    const cv = vol.ClusterVolume as { ID: string; Version: { Index: number }; Spec: Record<string, unknown> } | undefined | null;
    if (!cv) throw new StatusError(1, 'can only update cluster volumes');
    const spec = { ...cv.Spec };
    if (p.changed.has('availability')) spec.Availability = str(p, 'availability');
    await cli.client.volumeUpdate(cv.ID, cv.Version.Index, spec);
  },
};

export const commands: Record<string, Command> = { create, ls, inspect, rm, prune, update };
