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

export interface ContextEntry {
  header: TarHeader;
  data: Buffer;
}

/** Normalised relative paths ('' is the root) -> entries. */
export class BuildContext {
  readonly entries = new Map<string, ContextEntry>();

  static async read(tar: Readable, signal?: AbortSignal): Promise<BuildContext> {
    const ctx = new BuildContext();
    for await (const e of readTar(tar, signal)) {
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(c);
      const rel = cleanRel(e.header.name);
      if (rel === undefined) throw invalidArgument(`build context member ${JSON.stringify(e.header.name)} is outside the context`);
      ctx.entries.set(rel, { header: e.header, data: Buffer.concat(chunks) });
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

  private implyParents(rel: string): void {
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
        const t = cleanRel(target);
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
   * A directory source copies its contents; a file goes to `dest` itself unless `dest` ends with
   * `/` or there are several sources. Returns the tar and a digest of it (the cache key part).
   */
  copyLayer(srcs: string[], dest: string, opts: { uid?: number; gid?: number; mode?: number; destIsDir: boolean }): { tar: Buffer; digest: string } {
    const out: Buffer[] = [];
    const seen = new Set<string>();
    const own = (h: TarHeader): TarHeader => ({
      ...h, uid: opts.uid ?? 0, gid: opts.gid ?? 0, xattrs: h.xattrs ?? new Map(),
      mode: opts.mode !== undefined && h.type !== 'symlink' ? opts.mode : h.mode,
    });
    const emit = (h: TarHeader, data: Buffer) => {
      const name = h.name.replace(/^\/+/, '');
      if (seen.has(name)) return;
      seen.add(name);
      out.push(encodeTarHeader({ ...h, name, size: h.type === 'file' ? data.length : 0 }));
      if (h.type === 'file' && data.length) { out.push(data, Buffer.alloc(padding(data.length))); }
    };
    const destRoot = posix.normalize(dest);
    // Parents of the destination, as Docker's copy creates them (root-owned 0755; /tmp keeps 1777).
    const parents = (p: string) => {
      const list: string[] = [];
      for (let d = p; d !== '/' && d !== '.'; d = posix.dirname(d)) list.unshift(d);
      for (const d of list) emit({ ...dirHeader(d), mode: d === '/tmp' ? 0o1777 : 0o755 }, Buffer.alloc(0));
    };
    for (const src of srcs) {
      const e = src === '' ? { header: dirHeader(''), data: Buffer.alloc(0) } : this.entries.get(src)!;
      if (e.header.type === 'directory') {
        parents(posix.dirname(destRoot));
        if (destRoot !== '/') emit(own({ ...e.header, name: destRoot }), Buffer.alloc(0));
        const prefix = src === '' ? '' : `${src}/`;
        for (const [k, c] of [...this.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (!k.startsWith(prefix) || k === src) continue;
          const target = posix.join(destRoot, k.slice(prefix.length));
          emit(own({ ...c.header, name: target }), c.data);
        }
      } else {
        const target = opts.destIsDir ? posix.join(destRoot, posix.basename(src)) : destRoot;
        parents(posix.dirname(target));
        emit(own({ ...e.header, name: target }), e.data);
      }
    }
    out.push(TAR_END);
    const tar = Buffer.concat(out);
    return { tar, digest: createHash('sha256').update(tar).digest('hex') };
  }
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
