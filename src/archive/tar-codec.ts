import type { Readable } from 'node:stream';
import { canceled, invalidArgument } from '../base/errors';

/**
 * A small, binary-safe tar codec (ustar + PAX + GNU long names). Written here rather than taken
 * from tar-stream because tar-stream decodes and encodes PAX values as UTF-8, which corrupts
 * binary xattrs such as `security.capability` (the file capabilities of `ping` in Debian images).
 */

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (may be fractional when it came from PAX). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX `SCHILY.xattr.*` records, raw bytes. */
  xattrs: Map<string, Buffer>;
}

const TYPE_BY_FLAG: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'directory', '6': 'fifo',
};
const FLAG_BY_TYPE: Record<TarEntryType, string> = {
  file: '0', link: '1', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6',
};

/** Pulls exact byte counts out of a stream. */
class ByteSource {
  private readonly it: AsyncIterator<Buffer | string>;
  private chunks: Buffer[] = [];
  private have = 0;
  private ended = false;
  constructor(src: Readable, private readonly signal?: AbortSignal) {
    this.it = src[Symbol.asyncIterator]();
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    if (this.signal?.aborted) throw canceled('tar read canceled');
    const r = await this.it.next();
    if (r.done) { this.ended = true; return false; }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    if (b.length) { this.chunks.push(b); this.have += b.length; }
    return true;
  }

  /** Exactly n bytes, or null at a clean end of stream before any byte. */
  async read(n: number): Promise<Buffer | null> {
    while (this.have < n) {
      if (!(await this.pull())) {
        if (this.have === 0) return null;
        throw invalidArgument('tar: unexpected end of archive');
      }
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  /** Up to `n` bytes as they arrive, in chunks. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.have === 0 && !(await this.pull())) throw invalidArgument('tar: unexpected end of archive');
      if (this.have === 0) continue;
      const head = this.chunks[0]!;
      const b = head.length <= left ? head : head.subarray(0, left);
      if (b === head) this.chunks.shift(); else this.chunks[0] = head.subarray(left);
      this.have -= b.length;
      left -= b.length;
      yield b;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) { /* discard */ }
  }

  /** Skips up to n bytes; the stream may end first. */
  async skipUpTo(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.have === 0 && !(await this.pull())) return;
      if (this.have === 0) continue;
      const head = this.chunks[0]!;
      const k = Math.min(head.length, left);
      if (k === head.length) this.chunks.shift(); else this.chunks[0] = head.subarray(k);
      this.have -= k;
      left -= k;
    }
  }

  /** Reads and discards everything up to the end of the source. */
  async drain(): Promise<void> {
    this.chunks = [];
    this.have = 0;
    while (await this.pull()) {
      this.chunks = [];
      this.have = 0;
    }
  }

  /** Ends the underlying iterator (destroys the source) when we stop early. */
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

function parseNumber(b: Buffer): number {
  if (b[0]! & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    let v = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = b.toString('latin1').replace(/[\0 ]+$/g, '').replace(/^[\0 ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalidArgument(`tar: invalid numeric field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function parseString(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z === -1 ? b.length : z).toString('utf8');
}

function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum;
}

/** PAX records "LEN key=value\n", values kept as raw bytes. */
function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp === -1) break;
    const len = parseInt(buf.subarray(off, sp).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0 || off + len > buf.length) throw invalidArgument('tar: malformed PAX record');
    const rec = buf.subarray(sp + 1, off + len - 1); // drop the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq === -1) throw invalidArgument('tar: malformed PAX record');
    out.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's data; must be consumed (or left to be skipped) before the next entry is read. */
  body: AsyncIterable<Buffer>;
}

const MAX_META = 16 << 20; // bound PAX / long-name payloads: they are held in memory

/**
 * Parses a tar stream, yielding entries in order. Throws InvalidArgument on malformed input. The
 * generator finishes only once the source has ended (bytes after the end-of-archive marker are read
 * and dropped), so an error the source raises at its end still reaches the caller.
 */
export async function* readTar(src: Readable, signal?: AbortSignal): AsyncGenerator<TarEntry> {
  const bytes = new ByteSource(src, signal);
  let globalPax = new Map<string, Buffer>();
  let pax: Map<string, Buffer> | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;
  try {
    for (;;) {
      const block = await bytes.read(512);
      if (block === null) return;
      if (block.every((x) => x === 0)) {
        // End-of-archive marker (the second block may be absent). The source is still read to its
        // end: a consumer that checks a digest over the stream fails the read there, before the
        // caller commits anything (a pulled layer is unpacked while its digest is computed).
        await bytes.drain();
        return;
      }
      if (parseNumber(block.subarray(148, 156)) !== checksumOf(block)) throw invalidArgument('tar: header checksum mismatch');
      const flag = String.fromCharCode(block[156]!);
      const size = parseNumber(block.subarray(124, 136));
      const padded = Math.ceil(size / 512) * 512;
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (size > MAX_META) throw invalidArgument('tar: metadata entry too large');
        const data = (await bytes.read(padded)) ?? Buffer.alloc(0);
        const payload = data.subarray(0, size);
        if (flag === 'x') pax = parsePax(payload);
        else if (flag === 'g') globalPax = new Map([...globalPax, ...parsePax(payload)]);
        else if (flag === 'L') longName = parseString(payload);
        else longLink = parseString(payload);
        continue;
      }
      const type = TYPE_BY_FLAG[flag];
      if (!type) throw invalidArgument(`tar: unsupported entry type ${JSON.stringify(flag)}`);
      const magic = block.subarray(257, 263).toString('latin1');
      let name = parseString(block.subarray(0, 100));
      if (magic === 'ustar\0') {
        const prefix = parseString(block.subarray(345, 500));
        if (prefix) name = `${prefix}/${name}`;
      }
      const records = new Map([...globalPax, ...(pax ?? [])]);
      const str = (k: string) => records.get(k)?.toString('utf8');
      const num = (k: string, d: number) => {
        const v = str(k);
        if (v === undefined) return d;
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw invalidArgument(`tar: invalid PAX ${k}`);
        return n;
      };
      name = str('path') ?? longName ?? name;
      const xattrs = new Map<string, Buffer>();
      for (const [k, v] of records) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
      const header: TarHeader = {
        name,
        type,
        mode: parseNumber(block.subarray(100, 108)) & 0o7777,
        uid: num('uid', parseNumber(block.subarray(108, 116))),
        gid: num('gid', parseNumber(block.subarray(116, 124))),
        size: type === 'file' ? num('size', size) : 0,
        mtime: num('mtime', parseNumber(block.subarray(136, 148))),
        linkname: str('linkpath') ?? longLink ?? parseString(block.subarray(157, 257)),
        devmajor: parseNumber(block.subarray(329, 337)),
        devminor: parseNumber(block.subarray(337, 345)),
        xattrs,
      };
      pax = null; longName = null; longLink = null;
      // Data follows for regular files; other types may carry data too, which is skipped.
      const dataSize = type === 'file' ? header.size : size;
      let taken = 0;
      let started = false;
      const body: AsyncIterable<Buffer> = {
        [Symbol.asyncIterator]: () => {
          if (started) throw new Error('tar entry body read twice');
          started = true;
          const inner = bytes.take(type === 'file' ? dataSize : 0);
          return {
            next: async () => {
              const r = await inner.next();
              if (!r.done) taken += r.value.length;
              return r;
            },
            return: async () => ({ done: true as const, value: undefined }),
          };
        },
      };
      yield { header, body };
      await bytes.skip(dataSize - taken);
      // A stream that stops right after an entry's data (no padding, no end blocks) ends cleanly, as
      // in Go's archive/tar: the docker CLI sends build contexts with a Dockerfile from outside the
      // context cut like that. A truncated entry is still an error.
      await bytes.skipUpTo(padding(dataSize));
    }
  } finally {
    await bytes.close();
  }
}

// ---- writing ----

function octal(buf: Buffer, off: number, len: number, value: number): boolean {
  const s = Math.floor(value).toString(8);
  if (s.length > len - 1) return false;
  buf.write(s.padStart(len - 1, '0') + '\0', off, len, 'latin1');
  return true;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function splitUstarName(name: Buffer): { prefix: Buffer; name: Buffer } | null {
  if (name.length <= 100) return { prefix: Buffer.alloc(0), name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] === 0x2f && i <= 155 && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
      return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
    }
  }
  return null;
}

function rawHeader(h: TarHeader, name: Buffer, prefix: Buffer, link: Buffer, flag: string, size: number): Buffer {
  const b = Buffer.alloc(512);
  name.copy(b, 0, 0, Math.min(100, name.length));
  octal(b, 100, 8, h.mode & 0o7777);
  octal(b, 108, 8, Math.min(h.uid, 0o7777777));
  octal(b, 116, 8, Math.min(h.gid, 0o7777777));
  octal(b, 124, 12, Math.min(size, 0o77777777777));
  octal(b, 136, 12, Math.max(0, Math.min(Math.floor(h.mtime), 0o77777777777)));
  b.write(flag, 156, 1, 'latin1');
  link.copy(b, 157, 0, Math.min(100, link.length));
  b.write('ustar\x0000', 257, 8, 'latin1');
  if (h.type === 'char' || h.type === 'block') {
    octal(b, 329, 8, h.devmajor);
    octal(b, 337, 8, h.devminor);
  }
  prefix.copy(b, 345, 0, Math.min(155, prefix.length));
  b.write(`${checksumOf(b).toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

/**
 * Encodes one entry's header: a ustar block, preceded by a PAX extended header when a field does
 * not fit (long names, large numbers, xattrs). Deterministic for equal inputs.
 */
export function encodeTarHeader(h: TarHeader): Buffer {
  const name = Buffer.from(h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name);
  const link = Buffer.from(h.linkname);
  const records: Buffer[] = [];
  let split = splitUstarName(name);
  if (!split) {
    records.push(paxRecord('path', name));
    split = { prefix: Buffer.alloc(0), name: name.subarray(0, 100) };
  }
  if (link.length > 100) records.push(paxRecord('linkpath', link));
  if (h.size > 0o77777777777) records.push(paxRecord('size', Buffer.from(String(h.size))));
  if (h.uid > 0o7777777) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > 0o7777777) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  if (h.mtime < 0 || h.mtime > 0o77777777777) records.push(paxRecord('mtime', Buffer.from(String(Math.floor(h.mtime)))));
  for (const k of [...h.xattrs.keys()].sort()) records.push(paxRecord(`SCHILY.xattr.${k}`, h.xattrs.get(k)!));
  const main = rawHeader(h, split.name, split.prefix, link, FLAG_BY_TYPE[h.type], h.type === 'file' ? h.size : 0);
  if (records.length === 0) return main;
  const data = Buffer.concat(records);
  const paxName = Buffer.from(`PaxHeaders/${name.toString('utf8').replace(/\/$/, '').split('/').pop()!.slice(0, 80)}`);
  const ph: TarHeader = { ...h, type: 'file', mode: 0o644, size: data.length, linkname: '', xattrs: new Map() };
  const paxHeader = rawHeader(ph, paxName, Buffer.alloc(0), Buffer.alloc(0), 'x', data.length);
  return Buffer.concat([paxHeader, data, Buffer.alloc(padding(data.length)), main]);
}

/** Zero bytes needed after `size` bytes of data to reach a block boundary. */
export function padding(size: number): number {
  return (512 - (size % 512)) % 512;
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = Buffer.alloc(1024);
