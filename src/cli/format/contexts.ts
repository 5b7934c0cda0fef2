// The row objects docker's formatters expose to --format templates: their getters are the fields
// (`{{.ID}}`, `{{.Status}}`...), their methods take arguments (`{{.Label "x"}}`), and toJSON gives
// `--format json` (fields in sorted order, as docker marshals its field map).
import type { BuildCacheRecord, ContainerSummary, DiskUsage, ImageHistoryItem, ImageSummary, NetworkInspect, Port, Volume } from '../../client/types';
import { goQuote } from '../template/go-fmt';
import { byteOrder, ellipsis } from './formatter';
import { bytesSize, humanSize, humanSizeWithPrecision, timeAgo } from '../../base/units';
import { GoTime } from './go-values';

export const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/**
 * A moment in the local zone as Go formats its parts: date "2006-01-02", time "15:04:05", the
 * zone's offset in minutes east of UTC, and that offset as "-07" + sep + "00".
 */
export function localTimeParts(d: Date): { date: string; time: string; offset: number; zone: (sep: string) => string } {
  const p = (n: number) => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  return {
    date: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`,
    time: `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`,
    offset,
    zone: (sep) => `${offset >= 0 ? '+' : '-'}${p(Math.trunc(Math.abs(offset) / 60))}${sep}${p(Math.abs(offset) % 60)}`,
  };
}

/** Go's time.Time.String() in local time: "2006-01-02 15:04:05 -0700 MST". */
export function goTimeString(ms: number): string {
  const d = new Date(ms);
  const t = localTimeParts(d);
  const offs = t.zone('');
  let zone = 'UTC';
  if (t.offset !== 0) {
    zone = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? offs;
  }
  return `${t.date} ${t.time} ${offs} ${zone}`;
}

function sortedJSON(obj: object, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of [...keys].sort()) out[k] = (obj as Record<string, unknown>)[k];
  return out;
}

/** docker's DisplayablePorts: groups consecutive ports, "0.0.0.0:8080->80/tcp, 443/tcp". */
export function displayablePorts(ports: Port[]): string {
  const sorted = [...ports].sort((a, b) =>
    a.PrivatePort - b.PrivatePort || byteOrder(a.IP ?? '', b.IP ?? '') || (a.PublicPort ?? 0) - (b.PublicPort ?? 0) || byteOrder(a.Type, b.Type));
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const joinHostPort = (ip: string, port: string | number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  const formGroup = (key: string, first: number, last: number) => {
    const i = key.lastIndexOf('/');
    const ip = i >= 0 ? key.slice(0, i) : '';
    const type = i >= 0 ? key.slice(i + 1) : key;
    let g = String(first);
    if (first !== last) g = `${g}-${last}`;
    if (ip) g = `${joinHostPort(ip, g)}->${g}`;
    return `${g}/${type}`;
  };
  for (const p of sorted) {
    const cur = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== cur) { hostMappings.push(`${joinHostPort(p.IP, p.PublicPort ?? 0)}->${p.PrivatePort}/${p.Type}`); continue; }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) { groups.set(key, { first: cur, last: cur }); continue; }
    if (cur === g.last + 1) { g.last = cur; continue; }
    result.push(formGroup(key, g.first, g.last));
    groups.delete(key);
    groups.set(key, { first: cur, last: cur });
  }
  for (const [k, g] of groups) result.push(formGroup(k, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS',
  Mounts: 'MOUNTS', Networks: 'NETWORKS', LocalVolumes: 'LOCAL VOLUMES', Platform: 'PLATFORM',
};
export const DEFAULT_PS_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export class ContainerContext {
  constructor(private readonly c: ContainerSummary, private readonly trunc: boolean, private readonly now = Date.now()) {}
  get ID(): string { return this.trunc ? shortId(this.c.Id) : this.c.Id; }
  get Names(): string {
    let names = (this.c.Names ?? []).map((n) => n.replace(/^\//, ''));
    if (this.trunc) {
      const first = names.find((n) => n.split('/').length === 1);
      if (first !== undefined) names = [first];
    }
    return names.join(',');
  }
  get Image(): string {
    const img = this.c.Image || '<no image>';
    if (!this.trunc) return img;
    if (shortId(this.c.ImageID ?? '') === shortId(img)) return shortId(img);
    const at = img.indexOf('@');
    if (at > 0) {
      const named = img.slice(0, at);
      return named.replace(/^docker\.io\/(library\/)?/, '');
    }
    return img.replace(/^docker\.io\/(library\/)?/, '');
  }
  get Command(): string {
    const cmd = this.trunc ? ellipsis(this.c.Command ?? '', 20) : (this.c.Command ?? '');
    return goQuote(cmd);
  }
  get CreatedAt(): string { return goTimeString(this.c.Created * 1000); }
  get RunningFor(): string { return timeAgo(this.c.Created * 1000, this.now); }
  get Ports(): string { return displayablePorts(this.c.Ports ?? []); }
  get State(): string { return this.c.State; }
  get Status(): string { return this.c.Status; }
  get Size(): string {
    if (this.c.SizeRw === undefined && this.c.SizeRootFs === undefined) return '0B';
    const srw = humanSizeWithPrecision(this.c.SizeRw ?? 0, 3);
    const sv = humanSizeWithPrecision(this.c.SizeRootFs ?? 0, 3);
    return (this.c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${sv})` : srw;
  }
  get Labels(): string {
    return Object.entries(this.c.Labels ?? {}).sort(([a], [b]) => byteOrder(a, b)).map(([k, v]) => `${k}=${v}`).join(',');
  }
  Label(name: string): string { return this.c.Labels?.[name] ?? ''; }
  get Mounts(): string {
    return (this.c.Mounts ?? []).map((m) => {
      const name = m.Name || m.Source;
      return this.trunc ? ellipsis(name, 15) : name;
    }).join(',');
  }
  get Networks(): string { return Object.keys(this.c.NetworkSettings?.Networks ?? {}).sort().join(','); }
  get LocalVolumes(): string { return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length); }
  /** The platform of the image manifest the container runs (API 1.46+), null when the engine gives none, as docker. */
  get Platform(): unknown {
    return (this.c as { ImageManifestDescriptor?: { platform?: unknown } }).ImageManifestDescriptor?.platform ?? null;
  }
  toJSON(): Record<string, unknown> {
    return sortedJSON(this, ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Platform', 'Ports', 'RunningFor', 'Size', 'State', 'Status']);
  }
}

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', VirtualSize: 'VIRTUAL SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};
export const DEFAULT_IMAGES_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
export const DEFAULT_IMAGES_DIGEST_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

export class ImageContext {
  constructor(private readonly i: ImageSummary, readonly Repository: string, readonly Tag: string, readonly Digest: string,
    private readonly trunc: boolean, private readonly now = Date.now()) {}
  get ID(): string { return this.trunc ? shortId(this.i.Id) : this.i.Id; }
  get CreatedSince(): string { return this.i.Created ? timeAgo(this.i.Created * 1000, this.now) : 'N/A'; }
  get CreatedAt(): string { return goTimeString(this.i.Created * 1000); }
  get Size(): string { return humanSizeWithPrecision(this.i.Size, 3); }
  // docker uses units.HumanSize here (4 significant digits: "1.982MB"), unlike Size's 3.
  get VirtualSize(): string { return humanSizeWithPrecision(this.i.VirtualSize ?? this.i.Size, 4); }
  // units.HumanSize (4 digits), unlike Size.
  get SharedSize(): string { return this.i.SharedSize === -1 ? 'N/A' : humanSize(this.i.SharedSize); }
  get UniqueSize(): string { return this.i.Size === -1 || this.i.SharedSize === -1 ? 'N/A' : humanSize(this.i.Size - this.i.SharedSize); }
  get Containers(): string { return this.i.Containers === -1 ? 'N/A' : String(this.i.Containers); }
  toJSON(): Record<string, unknown> {
    return sortedJSON(this, ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
  }
}

/** Splits "repo:tag" / "repo@digest" (the tag colon is after the last slash). */
export function splitRef(ref: string): { repo: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repo: ref.slice(0, at), digest: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref };
}

/** docker images' rows: one per repo:tag (and per digest with --digests); "<none>" for dangling images. */
export function imageRows(images: ImageSummary[], opts: { digests: boolean; trunc: boolean }): ImageContext[] {
  const rows: ImageContext[] = [];
  const familiar = (r: string) => r.replace(/^docker\.io\/(library\/)?/, '');
  for (const img of images) {
    const tags = new Map<string, string[]>(), digests = new Map<string, string[]>();
    for (const t of img.RepoTags ?? []) {
      const r = splitRef(t);
      if (r.tag === undefined) continue;
      const repo = familiar(r.repo);
      tags.set(repo, [...(tags.get(repo) ?? []), r.tag]);
    }
    for (const d of img.RepoDigests ?? []) {
      const r = splitRef(d);
      if (!r.digest) continue;
      const repo = familiar(r.repo);
      digests.set(repo, [...(digests.get(repo) ?? []), r.digest]);
    }
    for (const [repo, ts] of tags) {
      let ds = digests.get(repo) ?? [];
      digests.delete(repo);
      if (!opts.digests) ds = [];
      for (const t of ts) {
        if (!ds.length) rows.push(new ImageContext(img, repo, t, '<none>', opts.trunc));
        for (const d of ds) rows.push(new ImageContext(img, repo, t, d, opts.trunc));
      }
    }
    for (const [repo, ds] of digests) {
      if (opts.digests) for (const d of ds) rows.push(new ImageContext(img, repo, '<none>', d, opts.trunc));
      else rows.push(new ImageContext(img, repo, '<none>', '<none>', opts.trunc));
    }
    if (!(img.RepoTags ?? []).length && !(img.RepoDigests ?? []).length) rows.push(new ImageContext(img, '<none>', '<none>', '<none>', opts.trunc));
  }
  return rows;
}

export const HISTORY_HEADERS: Record<string, string> = {
  ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT',
};
export const DEFAULT_HISTORY_FORMAT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

export class HistoryContext {
  constructor(private readonly h: ImageHistoryItem, private readonly trunc: boolean, private readonly human: boolean, private readonly now = Date.now()) {}
  get ID(): string {
    if (this.h.Id === '<missing>' || !this.h.Id) return '<missing>';
    return this.trunc ? shortId(this.h.Id) : this.h.Id;
  }
  get CreatedSince(): string {
    if (!this.human) return this.CreatedAt;
    return timeAgo(this.h.Created * 1000, this.now);
  }
  get CreatedAt(): string { return new Date(this.h.Created * 1000).toISOString().replace(/\.\d+Z$/, 'Z'); }
  get CreatedBy(): string {
    const c = (this.h.CreatedBy ?? '').replace(/\t/g, ' ');
    return this.trunc ? ellipsis(c, 45) : c;
  }
  get Size(): string { return this.human ? humanSizeWithPrecision(this.h.Size, 3) : String(this.h.Size); }
  get Comment(): string { return this.h.Comment ?? ''; }
  toJSON(): Record<string, unknown> { return sortedJSON(this, ['Comment', 'CreatedAt', 'CreatedBy', 'CreatedSince', 'ID', 'Size']); }
}

/** Labels as docker's formatters join them: "k=v" pairs with commas (docker's map order is random; ours is sorted). */
function joinLabels(labels: Record<string, string> | null | undefined): string {
  return Object.entries(labels ?? {}).sort(([a], [b]) => byteOrder(a, b)).map(([k, v]) => `${k}=${v}`).join(',');
}

export const VOLUME_HEADERS: Record<string, string> = {
  ID: 'ID', Name: 'VOLUME NAME', Group: 'GROUP', Driver: 'DRIVER', Scope: 'SCOPE', Availability: 'AVAILABILITY',
  Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE', Status: 'STATUS',
};
export const DEFAULT_VOLUME_FORMAT = 'table {{.Driver}}\t{{.Name}}';
export const CLUSTER_VOLUME_FORMAT = 'table {{.Name}}\t{{.Group}}\t{{.Driver}}\t{{.Availability}}\t{{.Status}}';

interface ClusterVolumeInfo { Spec?: { Group?: string; Availability?: string }; Info?: { VolumeID?: string }; PublishStatus?: unknown[] }

/** A row of `volume ls` (docker's volumeContext). */
export class VolumeContext {
  constructor(private readonly v: Volume) {}
  private get cluster(): ClusterVolumeInfo | undefined { return (this.v.ClusterVolume ?? undefined) as ClusterVolumeInfo | undefined; }
  get Name(): string { return this.v.Name; }
  get Driver(): string { return this.v.Driver; }
  get Scope(): string { return this.v.Scope; }
  get Mountpoint(): string { return this.v.Mountpoint; }
  get Labels(): string { return joinLabels(this.v.Labels); }
  Label(name: string): string { return this.v.Labels?.[name] ?? ''; }
  get Links(): string { return this.v.UsageData ? String(this.v.UsageData.RefCount) : 'N/A'; }
  get Size(): string { return this.v.UsageData ? humanSize(this.v.UsageData.Size) : 'N/A'; }
  get Group(): string { return this.cluster ? this.cluster.Spec?.Group ?? '' : 'N/A'; }
  get Availability(): string { return this.cluster ? this.cluster.Spec?.Availability ?? '' : 'N/A'; }
  get Status(): string {
    const c = this.cluster;
    if (!c) return 'N/A';
    if (!c.Info?.VolumeID) return 'pending creation';
    const n = c.PublishStatus?.length ?? 0;
    return n === 0 ? 'created' : n === 1 ? 'in use (1 node)' : `in use (${n} nodes)`;
  }
  toJSON(): Record<string, unknown> {
    return sortedJSON(this, ['Availability', 'Driver', 'Group', 'Labels', 'Links', 'Mountpoint', 'Name', 'Scope', 'Size', 'Status']);
  }
}

// Go's type names, which template errors print ("can't evaluate field X in type *formatter.volumeContext").
Object.defineProperty(VolumeContext, 'name', { value: '*formatter.volumeContext' });

export const NETWORK_HEADERS: Record<string, string> = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL',
  Labels: 'LABELS', CreatedAt: 'CREATED AT',
};
export const DEFAULT_NETWORK_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

/** A row of `network ls` (docker's networkContext). */
export class NetworkContext {
  constructor(private readonly n: NetworkInspect, private readonly trunc: boolean) {}
  get ID(): string { return this.trunc ? shortId(this.n.Id) : this.n.Id; }
  get Name(): string { return this.n.Name; }
  get Driver(): string { return this.n.Driver; }
  get Scope(): string { return this.n.Scope; }
  get IPv4(): string { return String(!!this.n.EnableIPv4); }
  get IPv6(): string { return String(!!this.n.EnableIPv6); }
  get Internal(): string { return String(!!this.n.Internal); }
  get Labels(): string { return joinLabels(this.n.Labels); }
  Label(name: string): string { return this.n.Labels?.[name] ?? ''; }
  /** Go's time.Time.String() of Created. */
  get CreatedAt(): string { return new GoTime(this.n.Created ?? '').toString(); }
  toJSON(): Record<string, unknown> {
    return sortedJSON(this, ['CreatedAt', 'Driver', 'ID', 'IPv4', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']);
  }
}

Object.defineProperty(NetworkContext, 'name', { value: '*network.networkContext' });

/**
 * sortorder.NaturalLess, docker's order for volume and network names: runs of digits compare by
 * value (then fewer leading zeros first), digits sort before other bytes, the rest by bytes.
 */
export function naturalLess(a: string, b: string): boolean {
  const isDigit = (c: number) => c >= 48 && c <= 57;
  const s1 = Buffer.from(a), s2 = Buffer.from(b);
  let i = 0, j = 0;
  while (i < s1.length && j < s2.length) {
    const c1 = s1[i], c2 = s2[j];
    const d1 = isDigit(c1), d2 = isDigit(c2);
    if (d1 !== d2) return d1;
    if (!d1) {
      if (c1 !== c2) return c1 < c2;
      i++; j++;
      continue;
    }
    while (i < s1.length && s1[i] === 48) i++;
    while (j < s2.length && s2[j] === 48) j++;
    const nz1 = i, nz2 = j;
    while (i < s1.length && isDigit(s1[i])) i++;
    while (j < s2.length && isDigit(s2[j])) j++;
    if (i - nz1 !== j - nz2) return i - nz1 < j - nz2;
    const n1 = s1.subarray(nz1, i).toString(), n2 = s2.subarray(nz2, j).toString();
    if (n1 !== n2) return n1 < n2;
    if (nz1 !== nz2) return nz1 < nz2;
  }
  return s1.length < s2.length;
}

/** A comparator from naturalLess, for Array.prototype.sort. */
export const naturalOrder = (a: string, b: string): number => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0);

/** What `stats` shows of one container (docker's container.StatsEntry): computed from its last sample. */
export interface StatsEntry {
  /** The container as named on the command line, or its short ID. */
  Container: string;
  /** As the engine sends it: "/name". */
  Name: string;
  ID: string;
  CPUPercentage: number;
  Memory: number;
  MemoryLimit: number;
  MemoryPercentage: number;
  NetworkRx: number;
  NetworkTx: number;
  BlockRead: number;
  BlockWrite: number;
  PidsCurrent: number;
  /** No valid sample (yet, or any more): the values print as "--". */
  IsInvalid: boolean;
}

export const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};
export const DEFAULT_STATS_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** strconv.FormatFloat(v, 'f', 2, 64) + "%". */
const percentage = (v: number) => `${v.toFixed(2)}%`;

/** A row of `stats` (docker's statsContext, Linux daemon). */
export class StatsContext {
  constructor(private readonly s: StatsEntry, private readonly trunc: boolean) {}
  get Container(): string { return this.s.Container; }
  get Name(): string { return this.s.Name.length > 1 ? this.s.Name.slice(1) : '--'; }
  get ID(): string { return this.trunc ? this.s.ID.slice(0, 12) : this.s.ID; }
  get CPUPerc(): string { return this.s.IsInvalid ? '--' : percentage(this.s.CPUPercentage); }
  get MemUsage(): string { return this.s.IsInvalid ? '-- / --' : `${bytesSize(this.s.Memory)} / ${bytesSize(this.s.MemoryLimit)}`; }
  get MemPerc(): string { return this.s.IsInvalid ? '--' : percentage(this.s.MemoryPercentage); }
  get NetIO(): string { return this.s.IsInvalid ? '--' : `${humanSizeWithPrecision(this.s.NetworkRx, 3)} / ${humanSizeWithPrecision(this.s.NetworkTx, 3)}`; }
  get BlockIO(): string { return this.s.IsInvalid ? '--' : `${humanSizeWithPrecision(this.s.BlockRead, 3)} / ${humanSizeWithPrecision(this.s.BlockWrite, 3)}`; }
  get PIDs(): string { return this.s.IsInvalid ? '--' : String(this.s.PidsCurrent); }
  toJSON(): Record<string, unknown> {
    return sortedJSON(this, ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);
  }
}

Object.defineProperty(StatsContext, 'name', { value: '*container.statsContext' });

export const BUILD_CACHE_HEADERS: Record<string, string> = {
  ID: 'CACHE ID', Parent: 'PARENT', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED',
  UsageCount: 'USAGE', InUse: 'IN USE', Shared: 'SHARED', Description: 'DESCRIPTION',
};

/** A build cache record as docker's buildCacheContext shows it (`system df -v`). */
export class BuildCacheContext {
  constructor(private readonly r: BuildCacheRecord, private readonly trunc: boolean, private readonly now = Date.now()) {}
  get ID(): string {
    const id = this.trunc ? this.r.ID.slice(0, 12) : this.r.ID;
    return this.r.InUse ? `${id}*` : id;
  }
  get Parent(): string {
    const parent = this.r.Parents?.length ? this.r.Parents.join(', ') : (this.r.Parent ?? '');
    return this.trunc ? parent.slice(0, 12) : parent;
  }
  get CacheType(): string { return this.r.Type; }
  get Description(): string { return this.r.Description; }
  get Size(): string { return humanSizeWithPrecision(this.r.Size, 3); }
  get CreatedAt(): string { return new GoTime(this.r.CreatedAt).toString(); }
  get CreatedSince(): string { return timeAgo(Date.parse(this.r.CreatedAt), this.now); }
  get LastUsedAt(): string { return this.r.LastUsedAt ? new GoTime(this.r.LastUsedAt).toString() : ''; }
  get LastUsedSince(): string { return this.r.LastUsedAt ? timeAgo(Date.parse(this.r.LastUsedAt), this.now) : ''; }
  get UsageCount(): string { return String(this.r.UsageCount); }
  get InUse(): string { return String(this.r.InUse); }
  get Shared(): string { return String(this.r.Shared); }
  toJSON(): Record<string, unknown> {
    return sortedJSON(this, ['CacheType', 'CreatedAt', 'CreatedSince', 'Description', 'ID', 'InUse', 'LastUsedAt', 'LastUsedSince', 'Parent', 'Shared', 'Size', 'UsageCount']);
  }
}

Object.defineProperty(BuildCacheContext, 'name', { value: '*formatter.buildCacheContext' });

/** docker's buildCacheSort: least recently used first (never used before all), then by ID. */
export function sortBuildCache(records: BuildCacheRecord[]): BuildCacheRecord[] {
  const at = (r: BuildCacheRecord) => (r.LastUsedAt ? Date.parse(r.LastUsedAt) : -Infinity);
  return [...records].sort((a, b) => at(a) - at(b) || byteOrder(a.ID, b.ID));
}

export const DISK_USAGE_HEADERS: Record<string, string> = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
export const DEFAULT_DISK_USAGE_FORMAT = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';

/** "1.2MB (40%)" as docker's disk usage rows print what could be freed; the percentage is truncated. */
function reclaimable(free: number, total: number): string {
  return total > 0 ? `${humanSize(free)} (${Math.trunc((free * 100) / total)}%)` : humanSize(free);
}

/** A row of `system df` (docker's diskUsage{Images,Containers,Volumes,Builder}Context). */
export class DiskUsageRow {
  constructor(readonly Type: string, private readonly total: number, private readonly active: number, private readonly size: string, private readonly free: string) {}
  get TotalCount(): string { return String(this.total); }
  get Active(): string { return String(this.active); }
  get Size(): string { return this.size; }
  get Reclaimable(): string { return this.free; }
  toJSON(): Record<string, unknown> { return sortedJSON(this, ['Active', 'Reclaimable', 'Size', 'TotalCount', 'Type']); }
}

/** Container states docker counts as active in `system df`. */
const ACTIVE_STATES = new Set(['running', 'paused', 'restarting']);

/** The four rows of `system df`, computed as docker's formatter does from GET /system/df. */
export function diskUsageRows(du: DiskUsage): DiskUsageRow[] {
  const images = du.Images ?? [], containers = du.Containers ?? [], volumes = du.Volumes ?? [], cache = du.BuildCache ?? [];
  const layers = du.LayersSize ?? 0;
  let imagesUsed = 0;
  for (const i of images) if (i.Containers !== 0 && i.Size !== -1 && i.SharedSize !== -1) imagesUsed += i.Size - i.SharedSize;
  let ctrSize = 0, ctrFree = 0;
  for (const c of containers) {
    ctrSize += c.SizeRw ?? 0;
    if (!ACTIVE_STATES.has(c.State)) ctrFree += c.SizeRw ?? 0;
  }
  let volSize = 0, volFree = 0;
  for (const v of volumes) {
    const size = v.UsageData?.Size ?? -1;
    if (size === -1) continue;
    volSize += size;
    if ((v.UsageData?.RefCount ?? 0) === 0) volFree += size;
  }
  const builderSize = builderSizeOf(cache);
  let cacheInUse = 0;
  for (const r of cache) if (r.InUse && !r.Shared) cacheInUse += r.Size;
  return [
    new DiskUsageRow('Images', images.length, images.filter((i) => i.Containers > 0).length, humanSize(layers), reclaimable(layers - imagesUsed, layers)),
    new DiskUsageRow('Containers', containers.length, containers.filter((c) => ACTIVE_STATES.has(c.State)).length, humanSize(ctrSize), reclaimable(ctrFree, ctrSize)),
    new DiskUsageRow('Local Volumes', volumes.length, volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, humanSize(volSize), reclaimable(volFree, volSize)),
    new DiskUsageRow('Build Cache', cache.length, cache.filter((r) => r.InUse).length, humanSize(builderSize), humanSize(builderSize - cacheInUse)),
  ];
}

/** The build cache's own size: records not shared with images (docker's BuilderSize). */
export function builderSizeOf(cache: BuildCacheRecord[]): number {
  return cache.reduce((n, r) => n + (r.Shared ? 0 : r.Size), 0);
}

// Template errors name the first row's type.
Object.defineProperty(DiskUsageRow, 'name', { value: '*formatter.diskUsageImagesContext' });
