// The pull side against a registry that misbehaves: wrong digests, truncated or oversized blobs,
// bad ranges, oversized manifests, junk tags. Each is refused with its kind and stores no image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { invalidArgument, isKind } from '../../base/errors';
import type { Digest } from '../../base/digest';
import type { ImageRecord } from '../../image/image-store';
import { makeEnv, makeTar } from '../../image/testing/fixtures';
import { DistributionClient } from './distribution-client';
import type { PullTarget } from './registry-client';

const dg = (b: Buffer | string): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An in-memory PullTarget: put verifies the expected digest, as the content store does. */
function memoryStore(): PullTarget & { images: string[]; blobs: Map<string, Buffer> } {
  const blobs = new Map<string, Buffer>();
  const images: string[] = [];
  return {
    blobs, images,
    content: {
      has: (d) => blobs.has(d),
      size: (d) => blobs.get(d)!.length,
      get: (d) => Readable.from([blobs.get(d)!]),
      async put(src, expected) {
        const chunks: Buffer[] = [];
        for await (const c of src) chunks.push(Buffer.from(c));
        const data = Buffer.concat(chunks);
        const d = dg(data);
        if (expected && d !== expected) throw invalidArgument(`digest mismatch: want ${expected} got ${d}`);
        blobs.set(d, data);
        return { digest: d, size: data.length };
      },
    },
    async putLayer(tar, diffIds) { await this.content.put(tar, diffIds[diffIds.length - 1]); },
    async unpackLayer() { /* nothing to unpack in memory */ },
    async layerBlobs() { /* every layer is a blob in memory */ },
    find: () => undefined,
    list: () => [],
    resolve: (id) => ({ id, repoTags: [], repoDigests: [] } as unknown as ImageRecord),
    async createImage(img) { images.push(img.config); return { id: img.config } as unknown as ImageRecord; },
    tag: () => undefined,
    addRepoDigest: () => undefined,
  };
}

interface Fixture { layer: Buffer; blob: Buffer; config: Buffer; manifest: Buffer; manifestDigest: Digest }

/** An image of one layer; with `gzip` the registry holds the layer compressed. */
function image(layer = Buffer.alloc(300_000, 7), opts: { gzip?: boolean } = {}): Fixture {
  const blob = opts.gzip ? gzipSync(layer) : layer;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [dg(layer)] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: dg(config), size: config.length },
    layers: [{ mediaType: `application/vnd.oci.image.layer.v1.tar${opts.gzip ? '+gzip' : ''}`, digest: dg(blob), size: blob.length }],
  }));
  return { layer, blob, config, manifest, manifestDigest: dg(manifest) };
}

/** A registry whose answers a test can replace per path. */
async function fakeRegistry(f: Fixture, override: (req: IncomingMessage, res: ServerResponse) => boolean = () => false): Promise<{ server: Server; addr: string }> {
  const server = createServer((req, res) => {
    if (override(req, res)) return;
    const url = req.url ?? '';
    if (url === '/v2/') { res.end('{}'); return; }
    if (/\/manifests\//.test(url)) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': f.manifest.length });
      res.end(f.manifest);
      return;
    }
    const blob = url.endsWith(dg(f.config)) ? f.config : url.endsWith(dg(f.blob)) ? f.blob : undefined;
    if (!blob) { res.writeHead(404); res.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}'); return; }
    const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (m) {
      const start = Number(m[1]);
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${blob.length - 1}/${blob.length}`, 'Content-Length': blob.length - start });
      res.end(blob.subarray(start));
      return;
    }
    res.writeHead(200, { 'Content-Length': blob.length });
    res.end(blob);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function pullWith(f: Fixture, override: Parameters<typeof fakeRegistry>[1], ref = 'x/y:1') {
  const reg = await fakeRegistry(f, override);
  const store = memoryStore();
  try {
    const r = await new DistributionClient(store).pull({ ref: `${reg.addr}/${ref}` }, () => undefined).then((v) => ({ ok: v }), (e: unknown) => ({ err: e }));
    return { ...r, store };
  } finally {
    reg.server.close();
  }
}

test('a clean pull stores config and layer and makes the image', async () => {
  const f = image();
  const r = await pullWith(f, () => false);
  assert.ok('ok' in r, String((r as { err?: unknown }).err));
  assert.deepEqual(r.store.images, [dg(f.config)]);
});

test('a layer whose bytes do not match the manifest digest is refused; no image is made', async () => {
  const f = image();
  const r = await pullWith(f, (req, res) => {
    if (!req.url?.endsWith(dg(f.blob))) return false;
    const bad = Buffer.from(f.blob);
    bad[1000] ^= 1;
    res.writeHead(200, { 'Content-Length': bad.length });
    res.end(bad);
    return true;
  });
  assert.ok('err' in r && isKind(r.err, 'InvalidArgument'), String((r as { err?: unknown }).err));
  assert.deepEqual(r.store.images, []);
});

test('a blob cut short on every attempt fails Unavailable after the retries; no image', async () => {
  const f = image();
  let attempts = 0;
  const r = await pullWith(f, (req, res) => {
    if (!req.url?.endsWith(dg(f.blob))) return false;
    attempts++;
    res.writeHead(200, { 'Content-Length': f.blob.length });
    res.write(f.blob.subarray(0, 1000));
    setTimeout(() => res.socket?.destroy(), 10);
    return true;
  });
  assert.ok('err' in r && isKind(r.err, 'Unavailable'), String((r as { err?: unknown }).err));
  assert.equal(attempts, 5);
  assert.deepEqual(r.store.images, []);
});

test('a registry that sends more than the manifest size, or a wrong Content-Range on resume, is refused', async () => {
  const f = image();
  const more = await pullWith(f, (req, res) => {
    if (!req.url?.endsWith(dg(f.blob))) return false;
    const big = Buffer.concat([f.blob, Buffer.alloc(10)]);
    res.writeHead(200, { 'Content-Length': big.length });
    res.end(big);
    return true;
  });
  assert.ok('err' in more && isKind(more.err, 'InvalidArgument'), String((more as { err?: unknown }).err));
  let first = true;
  const range = await pullWith(f, (req, res) => {
    if (!req.url?.endsWith(dg(f.blob))) return false;
    if (first) {
      first = false;
      res.writeHead(200, { 'Content-Length': f.blob.length });
      res.write(f.blob.subarray(0, 5000));
      setTimeout(() => res.socket?.destroy(), 10);
      return true;
    }
    res.writeHead(206, { 'Content-Range': `bytes 0-${f.blob.length - 1}/${f.blob.length}`, 'Content-Length': f.blob.length });
    res.end(f.blob);
    return true;
  });
  assert.ok('err' in range && isKind(range.err, 'InvalidArgument'), String((range as { err?: unknown }).err));
  assert.match(String((range as { err: Error }).err.message), /Content-Range/);
});

test('a config that does not match its digest, and a manifest that does not match the digest asked for, are refused', async () => {
  const f = image();
  const cfg = await pullWith(f, (req, res) => {
    if (!req.url?.endsWith(dg(f.config))) return false;
    res.end(Buffer.from(f.config.toString().replace('amd64', 'arm64')));
    return true;
  });
  assert.ok('err' in cfg && isKind(cfg.err, 'InvalidArgument'));
  const other = `sha256:${'a'.repeat(64)}`;
  const man = await pullWith(f, () => false, `x/y@${other}`);
  assert.ok('err' in man && isKind(man.err, 'InvalidArgument'));
  assert.match((man as { err: Error }).err.message, /digest mismatch/);
});

test('an oversized manifest is refused before it is parsed', async () => {
  const f = image();
  const r = await pullWith(f, (req, res) => {
    if (!/\/manifests\//.test(req.url ?? '')) return false;
    res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
    res.end(Buffer.alloc(5 << 20, 0x20));
    return true;
  });
  assert.ok('err' in r && isKind(r.err, 'InvalidArgument'));
  assert.match((r as { err: Error }).err.message, /larger than/);
});

test('tags: junk entries are dropped and Link pagination is followed', async () => {
  const f = image();
  const reg = await fakeRegistry(f, (req, res) => {
    if (!req.url?.includes('/tags/list')) return false;
    if (req.url.includes('last=b')) { res.end(JSON.stringify({ tags: ['c', '../etc', 'x/y'] })); return true; }
    res.writeHead(200, { Link: `</v2/x/y/tags/list?n=2&last=b>; rel="next"` });
    res.end(JSON.stringify({ tags: ['a', 'b', 42] }));
    return true;
  });
  try {
    assert.deepEqual(await new DistributionClient(memoryStore()).tags(`${reg.addr}/x/y`), ['a', 'b', 'c']);
  } finally { reg.server.close(); }
});


test('a gzip layer is decompressed into the store under its diffID', async () => {
  const f = image(Buffer.alloc(300_000, 9), { gzip: true });
  const r = await pullWith(f, () => false);
  assert.ok('ok' in r, String((r as { err?: unknown }).err));
  assert.ok(r.store.blobs.get(dg(f.layer))?.equals(f.layer));
  assert.equal(r.store.blobs.has(dg(f.blob)), false);
});

test('a gzip layer whose bytes differ from the manifest digest is refused, even when they decompress to the diffID', async () => {
  const f = image(Buffer.alloc(300_000, 9), { gzip: true });
  const other = Buffer.from(f.blob);
  other.writeUInt32LE(1_600_000_000, 4); // gzip's MTIME: the same content, other bytes
  const r = await pullWith(f, (req, res) => {
    if (!req.url?.endsWith(dg(f.blob))) return false;
    res.writeHead(200, { 'Content-Length': other.length });
    res.end(other);
    return true;
  });
  assert.ok('err' in r && isKind(r.err, 'InvalidArgument'), String((r as { err?: unknown }).err));
  assert.match((r as { err: Error }).err.message, /digest mismatch/);
  assert.deepEqual(r.store.images, []);
  assert.equal(r.store.blobs.has(dg(f.layer)), false);
});

test('a gzip layer cut short on every attempt fails Unavailable, not as bad gzip', async () => {
  const f = image(Buffer.alloc(300_000, 9), { gzip: true });
  const r = await pullWith(f, (req, res) => {
    if (!req.url?.endsWith(dg(f.blob))) return false;
    res.writeHead(200, { 'Content-Length': f.blob.length });
    res.write(f.blob.subarray(0, 100));
    setTimeout(() => res.socket?.destroy(), 10);
    return true;
  });
  assert.ok('err' in r && isKind(r.err, 'Unavailable'), String((r as { err?: unknown }).err));
  assert.deepEqual(r.store.images, []);
});

test('a pull into the real store: layers downloaded side by side are unpacked in order, each as soon as it can be', async () => {
  const env = await makeEnv();
  const layers = await Promise.all(['one', 'two', 'three'].map((n) => makeTar([{ name: `etc/${n}`, data: n.repeat(50_000) }])));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(dg) } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: dg(config), size: config.length },
    layers: layers.map((l, i) => ({ mediaType: `application/vnd.oci.image.layer.v1.tar${i === 1 ? '+gzip' : ''}`, digest: dg(i === 1 ? gzipSync(l) : l), size: (i === 1 ? gzipSync(l) : l).length })),
  }));
  const blobs = new Map([[dg(config), config], ...layers.map((l, i): [string, Buffer] => [dg(i === 1 ? gzipSync(l) : l), i === 1 ? gzipSync(l) : l])]);
  const f: Fixture = { layer: layers[0], blob: layers[0], config, manifest, manifestDigest: dg(manifest) };
  const reg = await fakeRegistry(f, (req, res) => {
    const blob = [...blobs].find(([d]) => req.url?.endsWith(d))?.[1];
    if (!blob) return false;
    // The bottom layer comes last: the others are stored first and unpacked after it.
    setTimeout(() => { res.writeHead(200, { 'Content-Length': blob.length }); res.end(blob); }, blob === layers[0] ? 100 : 0);
    return true;
  });
  try {
    const r = await new DistributionClient(env.store).pull({ ref: `${reg.addr}/x/y:1` }, () => undefined);
    assert.deepEqual(r.image.config.rootfs.diff_ids, layers.map(dg));
    for (const c of r.image.chainIds) assert.ok(env.snapshotter.hasLayer(c));
    for (const l of layers) assert.ok(env.store.content.has(dg(l)));
  } finally {
    reg.server.close();
    await env.close();
  }
});
