import { Readable } from 'node:stream';
import { pack, type Header } from 'tar-stream';

/** One member for `makeTar`: a tar-stream header plus optional file content. */
export interface TestMember {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  content?: string | Buffer;
}

/**
 * A tar built with tar-stream (an independent producer, so tests do not check our codec against
 * itself), for crafting hostile or exotic archives in tests.
 */
export function makeTar(members: TestMember[]): Readable {
  const p = pack();
  for (const m of members) {
    const { content, ...h } = m;
    const header: Header = { mode: h.type === 'directory' ? 0o755 : 0o644, mtime: new Date(1_600_000_000_000), ...h } as Header;
    const isFile = header.type === undefined || header.type === 'file';
    if (content !== undefined || isFile) p.entry({ ...header, size: Buffer.byteLength(content ?? '') }, content ?? '');
    else p.entry(header);
  }
  p.finalize();
  return p as unknown as Readable;
}

/** Collects a stream into one Buffer. */
export async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}
