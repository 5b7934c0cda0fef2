/**
 * The build context: the tar the client sent, held in memory by path, and COPY/ADD sources taken
 * from it as a layer tar. Source paths are scoped to the context: `..` that climbs out, and
 * symlinks whose target leaves the context, are errors ("forbidden path outside the build context").
 */
import type { Readable } from 'node:stream';
import { posix } from 'node:path';
import { createHash } from 'node:crypto';
import { invalidArgument } from '../base/errors';
import type { DockerIgnore } from '../base/dockerignore';
import { encodeTarHeader, padding, readTar, TAR_END, type TarHeader } from '../archive/tar-codec';
import { SMALL_FILE, type LayerMember } from '../archive/apply-tar';

export interface ContextEntry {
  header: TarHeader;
  data: Buffer;
  /** The data in the pieces it arrived in, when it was received: what a layer is written from (no copy). */
  chunks?: Buffer[];
  /** The data's length, when it is known without reading the data (a file read only when copied). */
  size?: number;
  /** sha256 (hex) of `data`, computed as it was read, or when first asked for (`entryDigest`). */
  digest?: string;
  /** Copies the data to a new file `dest` without reading it into memory (a file of a context directory). */
  copyTo?(dest: string, signal?: AbortSignal): Promise<void>;
}

/** A received file: its pieces are joined only if `data` is asked for (a 50 MB copy otherwise). */
class ReceivedEntry implements ContextEntry {
  private joined: Buffer | undefined;
  constructor(readonly header: TarHeader, readonly chunks: Buffer[], public digest: string | undefined) {}

  get data(): Buffer {
    this.joined ??= this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    return this.joined;
  }
}

/** The sha256 (hex) of an entry's data, computed once. */
export function entryDigest(e: ContextEntry): string {
  e.digest ??= createHash('sha256').update(e.data).digest('hex');
  return e.digest;
}

/** Normalised relative paths ('' is the root) -> entries. */
export class BuildContext {
  readonly entries = new Map<string, ContextEntry>();

  /**
   * `rooted`: the files of an image, whose symlinks resolve as in a chroot (an absolute target
   * starts at the root, `..` stops there); a build context refuses links that leave it.
   */
  constructor(private readonly rooted = false) {}

  static async read(tar: Readable, signal?: AbortSignal, opts: { rooted?: boolean } = {}): Promise<BuildContext> {
    const ctx = new BuildContext(opts.rooted);
    for await (const e of readTar(tar, signal)) {
      // Each file is hashed as it arrives (while the rest of the context is still on its way): the
      // COPY steps' cache keys need these digests, and then cost nothing more.
      const chunks: Buffer[] = [];
      const hash = e.header.type === 'file' ? createHash('sha256') : undefined;
      for await (const c of e.body) { chunks.push(c); hash?.update(c); }
      const rel = cleanRel(e.header.name);
      if (rel === undefined) throw invalidArgument(`build context member ${JSON.stringify(e.header.name)} is outside the context`);
      ctx.entries.set(rel, new ReceivedEntry(e.header, chunks, hash?.digest('hex')));
      // Parents implied by a member are directories even when the tar omits them.
      for (let p = posix.dirname(rel); p !== '.' && p !== '' && !ctx.entries.has(p); p = posix.dirname(p)) {
        ctx.entries.set(p, { header: dirHeader(p), data: Buffer.alloc(0) });
      }
    }
    return ctx;
  }

  /** Adds a regular file (heredoc sources); its parents are implied. */
  addFile(name: string, data: Buffer, mode: number): void {
    const rel = cleanRel(name);
    if (!rel) throw invalidArgument(`invalid file name ${JSON.stringify(name)}`);
    this.entries.set(rel, { header: { ...dirHeader(rel), type: 'file', mode, size: data.length }, data });
    this.implyParents(rel);
  }

  /**
   * Drops what `ignore` excludes (.dockerignore, applied again by the daemon). A directory stays
   * as an implied parent when an exception keeps something below it.
   */
  exclude(ignore: DockerIgnore): void {
    if (ignore.empty) return;
    for (const k of [...this.entries.keys()]) if (k !== '' && ignore.excludes(k)) this.entries.delete(k);
    for (const k of [...this.entries.keys()]) this.implyParents(k);
  }

  /** Adds the directories above `rel` the context lacks (as a tar without them implies them). */
  implyParents(rel: string): void {
    for (let p = posix.dirname(rel); p !== '.' && p !== '' && !this.entries.has(p); p = posix.dirname(p)) {
      this.entries.set(p, { header: dirHeader(p), data: Buffer.alloc(0) });
    }
  }

  /** A file of the context by its (unscoped) name, e.g. the Dockerfile. */
  file(name: string): Buffer | undefined {
    const rel = cleanRel(name);
    if (rel === undefined) return undefined;
    const e = this.entries.get(this.resolve(rel, name));
    return e && e.header.type === 'file' ? e.data : undefined;
  }

  /**
   * Resolves a relative path, following symlinks inside the context (each component, and the last
   * one too). A symlink leaving the context is an error.
   */
  resolve(rel: string, original: string, depth = 0): string {
    if (depth > 40) throw invalidArgument(`too many levels of symbolic links: ${original}`);
    const parts = rel === '' ? [] : rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length; i++) {
      const next = cur ? `${cur}/${parts[i]}` : parts[i];
      const e = this.entries.get(next);
      if (e?.header.type === 'symlink') {
        const target = e.header.linkname.startsWith('/') ? e.header.linkname : posix.join(cur || '.', e.header.linkname);
        const t = this.rooted ? posix.join('/', target).slice(1) : cleanRel(target);
        if (t === undefined) throw invalidArgument(`forbidden path outside the build context: ${original} ()`);
        const rest = parts.slice(i + 1).join('/');
        return this.resolve(rest ? (t ? `${t}/${rest}` : rest) : t, original, depth + 1);
      }
      cur = next;
    }
    return cur;
  }

  /** Expands one COPY source (a path or a glob) to resolved context paths. */
  sources(src: string): string[] {
    const rel = cleanRel(src);
    if (rel === undefined) throw invalidArgument(`forbidden path outside the build context: ${src} ()`);
    if (!/[*?[]/.test(rel)) {
      const r = this.resolve(rel, src);
      if (r !== '' && !this.entries.has(r)) throw invalidArgument(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
      return [r];
    }
    const re = globRegex(rel);
    const out = [...this.entries.keys()].filter((k) => re.test(k)).sort();
    if (out.length === 0) throw invalidArgument(`COPY failed: no source files were specified`);
    return out.map((k) => this.resolve(k, src));
  }

  /**
   * The layer tar of a COPY: `srcs` (from `sources`) copied to `dest` (absolute, in the image).
   * A directory source copies its contents; a file goes to `dest` itself unless `destIsDir`.
   * Returns the tar (as chunks) and the digest of what it holds (see LayerWriter.finish).
   */
  copyLayer(srcs: string[], dest: string, opts: { uid?: number; gid?: number; mode?: number; destIsDir: boolean }): { chunks: Iterable<Buffer>; digest: string } {
    const w = new LayerWriter({ uid: opts.uid, gid: opts.gid, mode: opts.mode === undefined ? undefined : () => opts.mode! });
    for (const src of srcs) w.source(this, src, dest, opts.destIsDir);
    return w.finish();
  }

  /**
   * `COPY --parents` sources: `src` split at its pivot (`a/./b`: a; none: the context root), the
   * rest a path or a glob below it. Each match (resolved) with its path relative to the pivot.
   */
  parentsSources(src: string): Array<{ path: string; rel: string; pivot: string }> {
    const cut = src.indexOf('/./');
    const pivot = cleanRel(cut >= 0 ? src.slice(0, cut) || '.' : '.');
    const pat = cleanRel((cut >= 0 ? src.slice(cut + 3) : src).replace(/^\/+/, '') || '.');
    if (pivot === undefined || pat === undefined) throw invalidArgument(`forbidden path outside the build context: ${src} ()`);
    const full = pivot && pat ? `${pivot}/${pat}` : pivot || pat;
    const relOf = (k: string) => (pivot ? (k === pivot ? '' : k.slice(pivot.length + 1)) : k);
    if (!/[*?[]/.test(full)) return this.sources(full).map((path) => ({ path, rel: relOf(full), pivot }));
    const re = globRegex(full);
    const out = [...this.entries.keys()].filter((k) => re.test(k)).sort();
    if (out.length === 0) throw invalidArgument('COPY failed: no source files were specified');
    return out.map((k) => ({ path: this.resolve(k, src), rel: relOf(k), pivot }));
  }

  /** The entry at a resolved path ('' is the root directory). */
  entry(rel: string): ContextEntry | undefined {
    return rel === '' ? { header: dirHeader(''), data: Buffer.alloc(0) } : this.entries.get(rel);
  }
}

/** A --chmod: the new mode of an entry from its mode and kind. */
export type ModeFn = (mode: number, isDir: boolean) => number;

/**
 * A COPY/ADD layer tar, built entry by entry: each path once (the first wins), parent directories
 * before their contents, owner (--chown) and mode (--chmod) applied to what is copied (not to the
 * parents made for it), hardlinks turned into copies of their target (its name in the layer is
 * not the one in the source). The file data is referenced, never copied, and read only when the tar
 * is written (not at all for a step found in the cache).
 */
export class LayerWriter {
  private readonly members: Array<{ header: TarHeader; encoded: Buffer; data?: ContextEntry }> = [];
  private readonly seen = new Set<string>();
  /** Over each header and the digest of each file's data: what the layer holds, without hashing the data again. */
  private readonly hash = createHash('sha256');
  constructor(private readonly o: { uid?: number; gid?: number; mode?: ModeFn; keepOwner?: boolean } = {}) {}

  private emit(h: TarHeader, e: ContextEntry | undefined): void {
    const name = h.name.replace(/^\/+/, '');
    if (!name || this.seen.has(name)) return;
    this.seen.add(name);
    const size = h.type === 'file' && e ? e.chunks?.reduce((n, c) => n + c.length, 0) ?? e.size ?? e.data.length : 0;
    const header = { ...h, name, size };
    const encoded = encodeTarHeader(header);
    this.hash.update(encoded);
    if (size) this.hash.update(entryDigest(e!));
    this.members.push({ header, encoded, data: size ? e : undefined });
  }

  /** Parents of an absolute path, as Docker's copy creates them (root-owned 0755; /tmp keeps 1777). */
  parents(p: string): void {
    const list: string[] = [];
    for (let d = p; d !== '/' && d !== '.'; d = posix.dirname(d)) list.unshift(d);
    for (const d of list) this.emit({ ...dirHeader(d), mode: d === '/tmp' ? 0o1777 : 0o755 }, undefined);
  }

  /** One entry of `ctx` copied to `target` (absolute), with the copy's owner and mode. */
  entry(ctx: BuildContext, e: ContextEntry, target: string, owner?: { keep: boolean }): void {
    let h = e.header;
    let data = e;
    if (h.type === 'link') {
      const t = cleanRel(h.linkname);
      const linked = t === undefined ? undefined : ctx.entries.get(t);
      if (!linked || linked.header.type !== 'file') return;
      h = { ...linked.header };
      data = linked;
    }
    const keep = owner?.keep ?? this.o.keepOwner;
    this.emit({
      ...h, name: target, xattrs: h.xattrs ?? new Map(),
      uid: this.o.uid ?? (keep ? h.uid : 0), gid: this.o.gid ?? (keep ? h.gid : 0),
      mode: this.o.mode && h.type !== 'symlink' ? this.o.mode(h.mode, h.type === 'directory') & 0o7777 : h.mode,
    }, data);
  }

  /**
   * A directory's contents under `destRoot` (the directory itself becomes destRoot, unless that
   * is `/`). `exclude` answers for paths relative to the directory (COPY --exclude).
   */
  tree(ctx: BuildContext, src: string, destRoot: string, opts: { exclude?: DockerIgnore; keepOwner?: boolean } = {}): void {
    this.parents(posix.dirname(destRoot));
    if (destRoot !== '/') this.entry(ctx, ctx.entry(src)!, destRoot, { keep: !!opts.keepOwner });
    const prefix = src === '' ? '' : `${src}/`;
    for (const [k, c] of [...ctx.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!k.startsWith(prefix) || k === src) continue;
      const rel = k.slice(prefix.length);
      if (opts.exclude?.excludes(rel)) continue;
      const target = posix.join(destRoot, rel);
      // An entry kept by a `!` exception below an excluded directory still needs its parents.
      this.parents(posix.dirname(target));
      this.entry(ctx, c, target, { keep: !!opts.keepOwner });
    }
  }

  /**
   * One resolved source of `ctx` to `dest`: a directory's contents into it, a file to `dest` (or
   * into it when `destIsDir`). `exclude` checks a file by its base name.
   */
  source(ctx: BuildContext, src: string, dest: string, destIsDir: boolean, exclude?: DockerIgnore): void {
    const e = ctx.entry(src)!;
    if (e.header.type === 'directory') { this.tree(ctx, src, posix.normalize(dest), { exclude }); return; }
    if (exclude?.excludes(posix.basename(src))) return;
    const target = destIsDir ? posix.join(dest, posix.basename(src)) : posix.normalize(dest);
    this.parents(posix.dirname(target));
    this.entry(ctx, e, target);
  }

  /**
   * The layer: as a tar's chunks to write in order, or as members to apply without a tar (big
   * files of a context directory copied file to file), and a digest of its content: of its
   * headers and of each file's data digest (the context's files were hashed as they arrived).
   * Equal digests mean equal tars; it is not the tar's own sha256 (the diffID, computed when the
   * layer is stored).
   */
  finish(): { chunks: Iterable<Buffer>; members: Iterable<LayerMember>; digest: string } {
    const list = this.members;
    const dataOf = (e: ContextEntry) => e.chunks ?? [e.data];
    return {
      chunks: {
        *[Symbol.iterator]() {
          for (const m of list) {
            yield m.encoded;
            if (m.data) { yield* dataOf(m.data); yield Buffer.alloc(padding(m.header.size)); }
          }
          yield TAR_END;
        },
      },
      members: {
        *[Symbol.iterator]() {
          for (const { header, data } of list) {
            const copy = data?.copyTo && header.size > SMALL_FILE ? data : undefined;
            yield { header, body: copy ? { copyTo: (dest, signal) => copy.copyTo!(dest, signal) } : data ? dataOf(data) : [] };
          }
        },
      },
      digest: this.hash.digest('hex'),
    };
  }
}

/** Whether a 512-byte block is a tar header: its checksum (unsigned or signed, as Go accepts) holds. */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512 || block.every((b) => b === 0)) return false;
  const field = block.toString('latin1', 148, 156).replace(/\0.*$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

function dirHeader(name: string): TarHeader {
  return { name, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map() };
}

/** A context-relative path, or undefined when it climbs out. Absolute paths are relative to the context root. */
export function cleanRel(p: string): string | undefined {
  if (p.startsWith('/')) return undefined;
  const n = posix.normalize(p);
  if (n === '..' || n.startsWith('../')) return undefined;
  // posix.normalize leaves no `./` prefix; only the context root itself is '.'.
  const r = n.replace(/\/+$/, '');
  return r === '.' ? '' : r;
}

/** Go's filepath.Match as a regex over a whole relative path (`*` and `?` stop at `/`). */
export function globRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) throw invalidArgument(`syntax error in pattern: ${glob}`);
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) re += '\\' + glob[++i];
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
