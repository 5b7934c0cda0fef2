import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { openDatabase, Db } from '../../sys/database';
import type { Snapshotter } from '../../snapshot/snapshotter';
import { LocalImageStore } from '../store';
import { OverlaySnapshotter } from '../../snapshot/overlay/overlay-snapshotter';

export type TarMember =
  | { name: string; data: string | Buffer; mode?: number }
  | { name: string; type: 'directory' }
  | { name: string; type: 'symlink' | 'link'; linkname: string };

/** Builds a tar in memory (test layers and archives). */
export async function makeTar(members: TarMember[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(c as Buffer); })();
  for (const m of members) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if ('data' in m) pack.entry({ name: m.name, mode: m.mode ?? 0o644, mtime: new Date(0) }, m.data, cb);
      else if (m.type === 'directory') pack.entry({ name: m.name, type: 'directory', mode: 0o755, mtime: new Date(0) }, cb);
      else pack.entry({ name: m.name, type: m.type, linkname: m.linkname, mtime: new Date(0) }, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const streamOf = (b: Buffer) => Readable.from([b]);

export async function collect(r: AsyncIterable<Buffer | Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Reads a tar into name -> content (files) and name -> linkname (links). */
export async function readTar(buf: Buffer): Promise<Map<string, Buffer | { link: string }>> {
  const out = new Map<string, Buffer | { link: string }>();
  const extract = tarStream.extract();
  Readable.from([buf]).pipe(extract);
  for await (const e of extract) {
    if (e.header.type === 'file') out.set(e.header.name, await collect(e as unknown as AsyncIterable<Buffer>));
    else {
      if (e.header.linkname) out.set(e.header.name, { link: e.header.linkname });
      e.resume();
    }
  }
  return out;
}

export interface Env {
  dir: string;
  db: Db;
  snapshotter: Snapshotter;
  store: LocalImageStore;
  reopen(): Promise<LocalImageStore>;
  close(): Promise<void>;
}

/** A store on a fresh temp root with real SQLite, real content files and the real OverlaySnapshotter. */
export async function makeEnv(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-image-'));
  const snapshotter = await makeSnapshotter(join(dir, 'snapshots'));
  const env: Env = {
    dir,
    db: openDatabase(join(dir, 'berth.db')),
    snapshotter,
    store: undefined as unknown as LocalImageStore,
    async reopen() {
      env.db.close();
      env.db = openDatabase(join(dir, 'berth.db'));
      env.snapshotter = await makeSnapshotter(join(dir, 'snapshots'));
      env.store = await LocalImageStore.open(env.db, join(dir, 'content'), env.snapshotter);
      return env.store;
    },
    async close() {
      env.db.close();
      await cleanupSnapshotter(env.snapshotter);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  env.store = await LocalImageStore.open(env.db, join(dir, 'content'), snapshotter);
  return env;
}

export async function makeSnapshotter(root: string): Promise<Snapshotter> {
  return new OverlaySnapshotter(root);
}

async function cleanupSnapshotter(_s: Snapshotter): Promise<void> {
  // The store's tests only unpack layers (no snapshots, no mounts): removing the temp root is enough.
}
