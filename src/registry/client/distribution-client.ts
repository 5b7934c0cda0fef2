import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Digest, isDigest, sha256 } from '../../base/digest';
import { BerthError, canceled, invalidArgument, notFound, unavailable } from '../../base/errors';
import { MEDIA_TYPES } from '../../oci/image';
import type { ImageConfigBlob } from '../../oci/image';
import type { ImageRecord } from '../../image/image-store';
import { Reference, fullString, parseReference, repositoryName } from '../../oci/reference';
import { ociManifestFor, hostArchitecture } from '../../image/archive-format';
import type { OciDescriptor } from '../../image/archive-format';
import { decompressStream } from '../../sys/decompress';
import type { ManifestDescriptor, Progress, ProgressSink, PullRequest, PullResult, PullTarget, PushRequest, PushResult, RegistryClient, SignatureArtifact } from './registry-client';
import { COSIGN_SIGNATURE_ANNOTATION, COSIGN_SIGNATURE_ARTIFACT, OCI_EMPTY_DIGEST, OCI_EMPTY_MEDIA_TYPE, SIMPLE_SIGNING_MEDIA_TYPE, cosignSignatureTag } from '../../oci/signature';
import { Credentials, RegistryTransport, readBody, registryError, type BodyResponse } from './transport';
import { RegistryHosts } from './registry-hosts';

const MANIFEST_ACCEPT = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList].join(', ');
const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList];
const MAX_MANIFEST = 4 << 20;
const MAX_CONFIG = 8 << 20;
/** A signature payload is a few hundred bytes; cosign's own limit is far below this. */
const MAX_PAYLOAD = 64 << 10;
/** dockerd's defaults (max-concurrent-downloads 3, max-concurrent-uploads 5). */
const DOWNLOADS = 3;
const UPLOADS = 5;
/** A download's smaller socket reads are passed on gathered into chunks of this size (see blobChunks). */
const GATHER = 256 << 10;

type Descriptor = OciDescriptor & { artifactType?: string };
interface ManifestDoc { mediaType?: string; config?: OciDescriptor; layers?: OciDescriptor[]; manifests?: Descriptor[] }

const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

/** Runs `fn` over `items` with at most `limit` at a time; the first error wins (others finish). */
async function bounded<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++];
      try { await fn(item); } catch (e) { failed ??= e; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(canceled('operation canceled')); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(canceled('operation canceled')); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function expectStatus(res: BodyResponse, ok: number[], context: string): Promise<void> {
  if (ok.includes(res.statusCode ?? 0)) return Promise.resolve();
  return readBody(res, 1 << 20).catch(() => Buffer.alloc(0)).then((b) => { throw registryError(res.statusCode ?? 0, b, context); });
}

function checkedDigest(what: string, s: unknown): Digest {
  if (typeof s !== 'string' || !isDigest(s)) throw invalidArgument(`${what}: bad digest ${JSON.stringify(s)}`);
  return s;
}

/**
 * RegistryClient over the OCI distribution API (node http/https, see transport.ts).
 *
 * Pull stores layers uncompressed under their diffIDs (verified against the config) after
 * verifying the compressed digest from the manifest. Push sends layers uncompressed with the OCI
 * media type `application/vnd.oci.image.layer.v1.tar`: the blob digest is then the diffID we
 * already have, so a push needs no compression pass and no temp file, the HEAD check and
 * cross-repo mounts work from the store's own keys, and the manifest is byte-identical to the one
 * `docker save` writes (same digest). The cost is more bytes on slow links; gzip on push is a
 * later option for non-loopback registries.
 */
export class DistributionClient implements RegistryClient {
  /** `hosts`: which registries are insecure (plain HTTP / unverified TLS); default none but loopback. */
  constructor(private readonly store: PullTarget, private readonly hosts: RegistryHosts = new RegistryHosts()) {}

  // ---- pull ------------------------------------------------------------------------------------

  async pull(req: PullRequest, progress: ProgressSink, signal?: AbortSignal): Promise<PullResult> {
    const ref = parseReference(req.ref);
    const t = new RegistryTransport(ref.domain, req.creds, this.hosts);
    const scopes = [`repository:${ref.path}:pull`];
    const refName = fullString(ref);
    const top = await this.fetchManifest(t, ref, ref.digest ?? ref.tag ?? 'latest', scopes, signal, `manifest for ${refName} not found`);
    let manifest = top;
    if (INDEX_TYPES.includes(top.mediaType)) {
      const want = parsePlatform(req.platform);
      const entry = (top.doc.manifests ?? []).find((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture
        && (!want.variant || m.platform?.variant === want.variant));
      if (!entry) throw notFound(`no matching manifest for ${want.os}/${want.architecture}${want.variant ? `/${want.variant}` : ''} in the manifest list entries`);
      manifest = await this.fetchManifest(t, ref, checkedDigest('manifest list entry', entry.digest), scopes, signal, `manifest ${entry.digest} of ${refName}`);
      if (INDEX_TYPES.includes(manifest.mediaType)) throw invalidArgument(`${refName}: nested manifest lists are not supported`);
    }
    const doc = manifest.doc;
    if (!doc.config || !Array.isArray(doc.layers)) throw invalidArgument(`${refName}: manifest has no config or layers`);
    const configDigest = checkedDigest('manifest config', doc.config.digest);
    const tagOrDigest = ref.tag ?? ref.digest!;
    // Content trust (and any other gate) sees the digest before anything is stored.
    await req.verify?.(top.digest);

    let config: ImageConfigBlob;
    let configBody: Buffer | undefined;
    if (!this.store.content.has(configDigest)) {
      const res = await t.request('GET', `/v2/${ref.path}/blobs/${configDigest}`, { scopes, signal });
      await expectStatus(res, [200], `config ${configDigest}`);
      configBody = await readBody(res, MAX_CONFIG);
      if (sha256(configBody) !== configDigest) throw invalidArgument(`config ${configDigest}: digest mismatch`);
      config = parseJsonBlob<ImageConfigBlob>(configBody, configDigest);
    } else {
      config = await readJsonBlob<ImageConfigBlob>(this.store.content, configDigest);
    }
    if (req.platform && !INDEX_TYPES.includes(top.mediaType)) {
      // dockerd 28 refuses a single-platform image that is not the platform asked for.
      const want = parsePlatform(req.platform);
      const arch = config.architecture === 'x86_64' ? 'amd64' : config.architecture;
      if (config.os !== want.os || arch !== want.architecture || (want.variant && config.variant !== want.variant)) {
        throw notFound(`image with reference ${refName} was found but does not match the specified platform: wanted ${[want.os, want.architecture, want.variant].filter(Boolean).join('/')}, actual: ${[config.os, arch, config.variant].filter(Boolean).join('/')}`);
      }
    }

    // From here on, progress is streamed (dockerd also reports only manifest errors as a status).
    progress({ id: tagOrDigest, status: `Pulling from ${ref.path}` });
    const diffIds = (config.rootfs?.diff_ids ?? []).map((d) => checkedDigest('config diff_ids', d));
    if (diffIds.length !== doc.layers.length) {
      throw invalidArgument(`${refName}: manifest has ${doc.layers.length} layers but the config ${diffIds.length} diff_ids`);
    }
    // The config is stored while the layers download (its fsync and reading it back cost a few
    // thread-pool round trips before the first layer byte); createImage, which needs it, waits.
    const configStored = configBody ? this.store.content.put(Readable.from([configBody]), configDigest, signal) : Promise.resolve();
    configStored.catch(() => undefined); // awaited below; a failure meanwhile is not unhandled
    const existed = this.store.find(configDigest) !== undefined;
    const todo: Array<{ desc: OciDescriptor; index: number }> = [];
    const seen = new Set<string>();
    doc.layers.forEach((desc, i) => {
      const id = short(desc.digest);
      if (this.store.content.has(diffIds[i]) || seen.has(diffIds[i])) {
        if (!seen.has(diffIds[i])) progress({ id, status: 'Already exists' });
        return;
      }
      seen.add(diffIds[i]);
      progress({ id, status: 'Pulling fs layer' });
      todo.push({ desc, index: i });
    });
    // Each layer is unpacked as soon as it and the layers below it are there: while it downloads
    // when those are unpacked already (putLayer), otherwise from its blob right after, in layer
    // order, while later layers still download. createImage then finds them done.
    const downloaded = new Map(todo.map((l) => [l.index, deferred()]));
    let unpacked: Promise<void> = Promise.resolve();
    diffIds.forEach((_, i) => {
      unpacked = unpacked.then(() => downloaded.get(i)?.promise).then(() => this.store.unpackLayer(diffIds.slice(0, i + 1), signal));
    });
    unpacked.catch(() => undefined); // awaited below; an unpack that fails early is not unhandled
    try {
      await bounded(todo, DOWNLOADS, async (l) => {
        try {
          await this.downloadLayer(t, ref, l.desc, diffIds.slice(0, l.index + 1), scopes, progress, signal);
          downloaded.get(l.index)!.resolve();
        } catch (e) {
          downloaded.get(l.index)!.reject(e);
          throw e;
        }
      });
    } finally {
      // Nothing runs on after the pull returned or failed.
      for (const d of downloaded.values()) d.reject(canceled('operation canceled'));
      await unpacked.catch(() => undefined);
      await configStored.catch(() => undefined);
    }
    await unpacked;
    await configStored;
    const image = await this.store.createImage({ config: configDigest, refs: ref.tag !== undefined ? [fullString({ domain: ref.domain, path: ref.path, tag: ref.tag })] : [] }, signal);
    for (const l of todo) progress({ id: short(l.desc.digest), status: 'Pull complete' });
    this.store.addRepoDigest(image.id, `${repositoryName(ref)}@${top.digest}`);
    progress({ status: `Digest: ${top.digest}` });
    const upToDate = existed && todo.length === 0;
    return { image: this.store.resolve(image.id), manifestDigest: top.digest, upToDate };
  }

  private async fetchManifest(t: RegistryTransport, ref: Reference, tagOrDigest: string, scopes: string[], signal: AbortSignal | undefined, context: string): Promise<{ digest: Digest; mediaType: string; doc: ManifestDoc; size: number }> {
    const res = await t.request('GET', `/v2/${ref.path}/manifests/${tagOrDigest}`, { scopes, signal, headers: { Accept: MANIFEST_ACCEPT } });
    await expectStatus(res, [200], context);
    const body = await readBody(res, MAX_MANIFEST);
    const digest = sha256(body);
    if (isDigest(tagOrDigest) && digest !== tagOrDigest) throw invalidArgument(`manifest ${tagOrDigest}: digest mismatch (got ${digest})`);
    let doc: ManifestDoc;
    try { doc = JSON.parse(body.toString()) as ManifestDoc; } catch { throw invalidArgument(`${context}: manifest is not JSON`); }
    const ct = String(res.headers['content-type'] ?? '').split(';')[0].trim();
    const mediaType = doc.mediaType ?? (ct && ct !== 'application/json' ? ct : (doc.manifests ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest));
    return { digest, mediaType, doc, size: body.length };
  }

  /**
   * Downloads one layer into the store (PullTarget.putLayer, which also unpacks it when it can, in
   * the same pass). `diffIds`: the layer's own diffID last, those below it first.
   *
   * An uncompressed layer's blob digest is its diffID: the store's check of the diffID is then the
   * check of the blob, and the bytes go to the store as they arrive (one hash, no decompressor). A
   * compressed layer is hashed on the way in and decompressed into the store, which checks the
   * diffID; the blob's digest is checked when its last byte has arrived, before the stream ends,
   * so the store commits nothing of a blob that does not match.
   */
  private async downloadLayer(t: RegistryTransport, ref: Reference, desc: OciDescriptor, diffIds: Digest[], scopes: string[], progress: ProgressSink, signal?: AbortSignal): Promise<void> {
    const digest = checkedDigest('manifest layer', desc.digest);
    const diffId = diffIds[diffIds.length - 1];
    const plain = digest === diffId;
    const body = this.blobChunks(t, ref, desc, digest, plain ? undefined : createHash('sha256'), scopes, progress, signal);
    let src: AsyncIterable<Buffer> = body;
    if (!plain) {
      const decoded = decompressStream(Readable.from(body), signal);
      // The store reads it after it has the layer's lock; a decoding error before then is not
      // uncaught, and the store's read still gets it.
      decoded.on('error', () => undefined);
      src = decoded;
    }
    try {
      await this.store.putLayer(src, diffIds, signal);
    } catch (e) {
      if (src instanceof Readable) src.destroy(); // and with it the download, if the store never read it
      if (e instanceof BerthError && /content digest mismatch/.test(e.message)) {
        throw invalidArgument(plain ? `layer ${digest}: digest mismatch` : `layer ${digest}: uncompressed content does not match diff_id ${diffId}`, e);
      }
      if (e instanceof Error && !(e instanceof BerthError)) throw unavailable(`layer ${digest}: ${e.message}`, e);
      throw e;
    }
    const id = short(digest);
    progress({ id, status: 'Verifying Checksum' });
    progress({ id, status: 'Download complete' });
  }

  /**
   * A blob's bytes as they arrive. A connection that drops mid-blob is picked up where it stopped
   * with `Range: bytes=N-` (dockerd retries a layer 5 times, resuming when it can); a registry that
   * answers the range with a whole 200 body has its first N bytes skipped. After the last byte, the
   * size is checked and, with `hash`, the digest over all the bytes (a resumed blob as a whole):
   * a mismatch is an error at the end of the stream, never a clean end. Small socket reads (64 KiB
   * through node's http) are gathered into 256 KiB chunks: every stage after this one (digest,
   * content write, tar parser, unpack) then runs a quarter as often per byte. On plain HTTP the
   * transport reads the body itself (RegistryTransport.getBody), in reads of that size or more.
   */
  private async *blobChunks(t: RegistryTransport, ref: Reference, desc: OciDescriptor, digest: Digest, hash: Hash | undefined, scopes: string[], progress: ProgressSink, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const id = short(digest);
    let current = 0;
    let lastReport = 0;
    let total = desc.size;
    const tooBig = () => invalidArgument(`layer ${digest}: registry sent more than the manifest's ${desc.size} bytes`);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const take = () => {
      const out = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      return out;
    };
    for (let attempt = 0; ; attempt++) {
      const resumeAt = current;
      let res: BodyResponse | undefined;
      let done = false;
      try {
        res = await t.getBody(`/v2/${ref.path}/blobs/${digest}`, { scopes, signal, headers: resumeAt > 0 ? { Range: `bytes=${resumeAt}-` } : {} });
        let skip = 0;
        if (resumeAt > 0 && res.statusCode === 206) {
          const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
          if (!m || Number(m[1]) !== resumeAt) throw invalidArgument(`layer ${digest}: registry answered bytes=${resumeAt}- with Content-Range ${res.headers['content-range']}`);
        } else {
          await expectStatus(res, [200], `layer ${digest}`);
          skip = resumeAt;
          if (attempt === 0) total = Number(res.headers['content-length'] ?? desc.size) || desc.size;
        }
        for await (const c of res) {
          let chunk = c as Buffer;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (!chunk.length) continue;
          }
          current += chunk.length;
          if (current > desc.size) throw tooBig();
          hash?.update(chunk);
          // About 100 updates per layer at most: the CLI redraws on each.
          if (current - lastReport >= Math.max(total / 100, 64 << 10) || current === total) {
            lastReport = current;
            progress({ id, status: 'Downloading', current, total });
          }
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= GATHER) yield take();
        }
        done = true;
        break;
      } catch (e) {
        if (signal?.aborted || (e instanceof BerthError && e.kind !== 'Unavailable') || attempt >= 4 || current >= desc.size) {
          // Kinds, not socket errors: a decompressor in between must not take them for bad input.
          if (e instanceof BerthError) throw e;
          if (signal?.aborted) throw canceled('operation canceled', e);
          throw unavailable(`layer ${digest}: ${e instanceof Error ? e.message : String(e)}`, e);
        }
        // A dropped connection: resume from what has arrived.
        if (pendingBytes > 0) yield take();
        progress({ id, status: `Retrying in ${attempt + 1} second${attempt ? 's' : ''}` });
        await sleep(200 * (attempt + 1), signal);
      } finally {
        // Also when the consumer stopped reading (the store failed, or the pull was canceled).
        if (!done) res?.destroy();
      }
    }
    if (current !== desc.size) throw invalidArgument(`layer ${digest}: ${current} bytes, the manifest says ${desc.size}`);
    if (pendingBytes > 0) yield take();
    if (hash) {
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== digest) throw invalidArgument(`layer ${digest}: digest mismatch (got ${got})`);
    }
  }

  // ---- push ------------------------------------------------------------------------------------

  async push(req: PushRequest, progress: ProgressSink, signal?: AbortSignal): Promise<PushResult> {
    const ref = parseReference(req.ref);
    if (ref.tag === undefined) throw invalidArgument(`${req.ref}: push needs a tag`);
    const image = this.store.resolve(fullString(ref));
    const t = new RegistryTransport(ref.domain, req.creds, this.hosts);
    const scopes = [`repository:${ref.path}:pull,push`];
    progress({ status: `The push refers to repository [${repositoryName(ref)}]` });
    const mountFrom = this.mountCandidates(ref, image);
    const diffIds = (image.config.rootfs.diff_ids as Digest[]);
    const unique = [...new Set(diffIds)].reverse(); // docker lists the top layer first
    for (const d of unique) progress({ id: short(d), status: 'Preparing' });
    await bounded(unique, UPLOADS, async (d) => {
      // A built layer's tar is made here, each while the others upload (not all of them first).
      await this.store.layerBlobs([d], signal);
      const r = await this.pushBlob(t, ref, d, scopes, mountFrom(d), progress, signal);
      progress({ id: short(d), status: r === 'exists' ? 'Layer already exists' : r === 'pushed' ? 'Pushed' : `Mounted from ${r.mountedFrom}` });
    });
    await this.pushBlob(t, ref, image.id, scopes, mountFrom(image.id), undefined, signal);
    const manifest = ociManifestFor(image.id, this.store.content.size(image.id), diffIds.map((d) => ({ digest: d, size: this.store.content.size(d) })));
    const digest = sha256(manifest);
    const res = await t.request('PUT', `/v2/${ref.path}/manifests/${ref.tag}`, {
      scopes, signal, headers: { 'Content-Type': MEDIA_TYPES.ociManifest }, body: () => manifest,
    });
    await expectStatus(res, [201, 200], `manifest ${ref.tag}`);
    res.resume();
    progress({ status: `${ref.tag}: digest: ${digest} size: ${manifest.length}` });
    progress({ status: '', aux: { Tag: ref.tag, Digest: digest, Size: manifest.length } });
    this.store.addRepoDigest(image.id, `${repositoryName(ref)}@${digest}`);
    return { manifestDigest: digest, size: manifest.length };
  }

  /**
   * Repositories of the same registry that may already hold a blob: those of every local image
   * pushed to or pulled from that registry whose config or layers include it (dockerd keeps a
   * table of where each layer was seen; berth's image records hold the same facts). The image's
   * own repositories come first. A candidate that turns out not to have the blob costs nothing:
   * the registry answers the mount with a new upload session, which the push then uses.
   */
  private mountCandidates(ref: Reference, image: ImageRecord): (d: Digest) => string[] {
    const byBlob = new Map<string, Set<string>>();
    const note = (img: ImageRecord) => {
      const repos = img.repoDigests.map((r) => parseReference(r)).filter((r) => r.domain === ref.domain && r.path !== ref.path).map((r) => r.path);
      if (!repos.length) return;
      for (const d of [img.id, ...(img.config.rootfs?.diff_ids ?? [])]) {
        const set = byBlob.get(d) ?? new Set<string>();
        for (const r of repos) set.add(r);
        byBlob.set(d, set);
      }
    };
    note(image);
    for (const img of this.store.list()) if (img.id !== image.id) note(img);
    return (d) => [...(byBlob.get(d) ?? [])].slice(0, 3);
  }

  private async pushBlob(t: RegistryTransport, ref: Reference, d: Digest, scopes: string[], mountFrom: string[], progress: ProgressSink | undefined, signal?: AbortSignal): Promise<'exists' | 'pushed' | { mountedFrom: string }> {
    const head = await t.request('HEAD', `/v2/${ref.path}/blobs/${d}`, { scopes, signal });
    head.resume();
    if (head.statusCode === 200) return 'exists';
    if (head.statusCode !== 404) await expectStatus(head, [200], `blob ${d}`);
    let location: string | undefined;
    for (const from of mountFrom) {
      const res = await t.request('POST', `/v2/${ref.path}/blobs/uploads/?mount=${d}&from=${encodeURIComponent(from)}`, {
        scopes: [...scopes, `repository:${from}:pull`], signal, headers: { 'Content-Length': 0 },
      });
      res.resume();
      if (res.statusCode === 201) return { mountedFrom: from };
      if (res.statusCode === 202 && res.headers.location) { location = res.headers.location; break; }
    }
    if (!location) {
      const res = await t.request('POST', `/v2/${ref.path}/blobs/uploads/`, { scopes, signal, headers: { 'Content-Length': 0 } });
      await expectStatus(res, [202], `starting upload of ${d}`);
      res.resume();
      location = res.headers.location;
      if (!location) throw invalidArgument(`${ref.domain}: upload started without a Location`);
    }
    const url = new URL(location, t.base);
    url.searchParams.set('digest', d);
    const size = this.store.content.size(d);
    const id = short(d);
    const res = await t.request('PUT', url.toString(), {
      scopes, signal,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size },
      body: () => {
        // The blob goes straight to the socket; progress counts what was read.
        const src = this.store.content.get(d);
        if (progress) {
          let current = 0;
          let last = 0;
          src.on('data', (chunk: Buffer) => {
            current += chunk.length;
            if (current - last >= Math.max(size / 100, 64 << 10) || current === size) {
              last = current;
              progress({ id, status: 'Pushing', current, total: size });
            }
          });
        }
        return src;
      },
    });
    await expectStatus(res, [201, 204], `uploading ${d}`);
    res.resume();
    return 'pushed';
  }

  // ---- signatures (content trust) ------------------------------------------------------------

  async resolve(refString: string, creds?: Credentials, signal?: AbortSignal): Promise<ManifestDescriptor> {
    const ref = parseReference(refString);
    const t = new RegistryTransport(ref.domain, creds, this.hosts);
    const m = await this.fetchManifest(t, ref, ref.digest ?? ref.tag ?? 'latest', [`repository:${ref.path}:pull`], signal, `manifest for ${fullString(ref)} not found`);
    return { digest: m.digest, mediaType: m.mediaType, size: m.size };
  }

  async signatures(repository: string, digest: Digest, creds?: Credentials, signal?: AbortSignal): Promise<SignatureArtifact[]> {
    const ref = parseReference(repository, { defaultTag: false });
    const t = new RegistryTransport(ref.domain, creds, this.hosts);
    const scopes = [`repository:${ref.path}:pull`];
    const out: SignatureArtifact[] = [];
    const seen = new Set<string>();
    const fromManifest = async (source: string, doc: ManifestDoc) => {
      for (const l of (doc.layers ?? []).slice(0, 16)) {
        const sig = l.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
        if (l.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE || typeof sig !== 'string' || l.size > MAX_PAYLOAD) continue;
        const payload = await this.fetchBlob(t, ref, checkedDigest('signature layer', l.digest), MAX_PAYLOAD, scopes, signal);
        out.push({ source, payload, signature: sig });
      }
    };
    // Referrers: the API, or the fallback tag `sha256-<hex>` holding an index (OCI distribution 1.1).
    let referrers: Descriptor[] = [];
    const res = await t.request('GET', `/v2/${ref.path}/referrers/${digest}?artifactType=${encodeURIComponent(COSIGN_SIGNATURE_ARTIFACT)}`, { scopes, signal, headers: { Accept: MEDIA_TYPES.ociIndex } });
    if (res.statusCode === 200) {
      try { referrers = (JSON.parse((await readBody(res, MAX_MANIFEST)).toString()) as ManifestDoc).manifests ?? []; } catch { throw invalidArgument(`referrers of ${digest}: answer is not JSON`); }
    } else if (res.statusCode === 404) {
      res.resume();
      const fallback = await this.fetchManifestIfAny(t, ref, digest.replace(':', '-'), scopes, signal);
      referrers = fallback?.doc.manifests ?? [];
    } else await expectStatus(res, [200], `referrers of ${digest}`);
    for (const d of referrers.filter((m) => m.artifactType === COSIGN_SIGNATURE_ARTIFACT).slice(0, 64)) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      const m = await this.fetchManifest(t, ref, checkedDigest('referrer', d.digest), scopes, signal, `signature ${d.digest}`);
      await fromManifest(m.digest, m.doc);
    }
    // cosign's tag scheme.
    const tagged = await this.fetchManifestIfAny(t, ref, cosignSignatureTag(digest), scopes, signal);
    if (tagged && !seen.has(tagged.digest)) await fromManifest(cosignSignatureTag(digest), tagged.doc);
    return out;
  }

  async pushSignature(repository: string, subject: ManifestDescriptor, payload: Buffer, signature: string, creds?: Credentials, signal?: AbortSignal): Promise<Digest> {
    const ref = parseReference(repository, { defaultTag: false });
    const t = new RegistryTransport(ref.domain, creds, this.hosts);
    const scopes = [`repository:${ref.path}:pull,push`];
    const empty = Buffer.from('{}');
    for (const blob of [empty, payload]) await this.uploadBuffer(t, ref, blob, scopes, signal);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, artifactType: COSIGN_SIGNATURE_ARTIFACT,
      config: { mediaType: OCI_EMPTY_MEDIA_TYPE, digest: OCI_EMPTY_DIGEST, size: 2 },
      layers: [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: sha256(payload), size: payload.length, annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signature } }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
    }));
    const digest = sha256(manifest);
    const res = await t.request('PUT', `/v2/${ref.path}/manifests/${digest}`, { scopes, signal, headers: { 'Content-Type': MEDIA_TYPES.ociManifest }, body: () => manifest });
    await expectStatus(res, [201, 200], `signature manifest ${digest}`);
    res.resume();
    if (!res.headers['oci-subject']) {
      // A registry without the referrers API: keep the referrers tag schema's index up to date.
      const tag = subject.digest.replace(':', '-');
      const current = await this.fetchManifestIfAny(t, ref, tag, scopes, signal);
      const manifests = (current?.doc.manifests ?? []).filter((m) => m.digest !== digest);
      manifests.push({ mediaType: MEDIA_TYPES.ociManifest, digest, size: manifest.length, artifactType: COSIGN_SIGNATURE_ARTIFACT });
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }));
      const put = await t.request('PUT', `/v2/${ref.path}/manifests/${tag}`, { scopes, signal, headers: { 'Content-Type': MEDIA_TYPES.ociIndex }, body: () => index });
      await expectStatus(put, [201, 200], `referrers index ${tag}`);
      put.resume();
    }
    return digest;
  }

  private async fetchManifestIfAny(t: RegistryTransport, ref: Reference, tagOrDigest: string, scopes: string[], signal?: AbortSignal): Promise<{ digest: Digest; doc: ManifestDoc } | undefined> {
    try {
      return await this.fetchManifest(t, ref, tagOrDigest, scopes, signal, `manifest ${tagOrDigest}`);
    } catch (e) {
      if (e instanceof BerthError && e.kind === 'NotFound') return undefined;
      throw e;
    }
  }

  private async fetchBlob(t: RegistryTransport, ref: Reference, d: Digest, limit: number, scopes: string[], signal?: AbortSignal): Promise<Buffer> {
    const res = await t.request('GET', `/v2/${ref.path}/blobs/${d}`, { scopes, signal });
    await expectStatus(res, [200], `blob ${d}`);
    const body = await readBody(res, limit);
    if (sha256(body) !== d) throw invalidArgument(`blob ${d}: digest mismatch`);
    return body;
  }

  /** A small blob, monolithic (POST then PUT ?digest=), unless the registry has it. */
  private async uploadBuffer(t: RegistryTransport, ref: Reference, data: Buffer, scopes: string[], signal?: AbortSignal): Promise<void> {
    const d = sha256(data);
    const head = await t.request('HEAD', `/v2/${ref.path}/blobs/${d}`, { scopes, signal });
    head.resume();
    if (head.statusCode === 200) return;
    const start = await t.request('POST', `/v2/${ref.path}/blobs/uploads/`, { scopes, signal, headers: { 'Content-Length': 0 } });
    await expectStatus(start, [202], `starting upload of ${d}`);
    start.resume();
    if (!start.headers.location) throw invalidArgument(`${ref.domain}: upload started without a Location`);
    const url = new URL(start.headers.location, t.base);
    url.searchParams.set('digest', d);
    const put = await t.request('PUT', url.toString(), { scopes, signal, headers: { 'Content-Type': 'application/octet-stream' }, body: () => data });
    await expectStatus(put, [201, 204], `uploading ${d}`);
    put.resume();
  }

  // ---- tags ------------------------------------------------------------------------------------

  async tags(repository: string, creds?: Credentials, signal?: AbortSignal): Promise<string[]> {
    const ref = parseReference(repository, { defaultTag: false });
    const t = new RegistryTransport(ref.domain, creds, this.hosts);
    const scopes = [`repository:${ref.path}:pull`];
    const out: string[] = [];
    let next: string | undefined = `/v2/${ref.path}/tags/list`;
    for (let page = 0; next && page < 1000; page++) {
      const res = await t.request('GET', next, { scopes, signal });
      await expectStatus(res, [200], `tags of ${repositoryName(ref)}`);
      let doc: { tags?: unknown };
      try { doc = JSON.parse((await readBody(res, MAX_MANIFEST)).toString()) as typeof doc; } catch { throw invalidArgument(`tags of ${repositoryName(ref)}: answer is not JSON`); }
      if (Array.isArray(doc.tags)) out.push(...doc.tags.filter((x): x is string => typeof x === 'string' && /^[\w][\w.-]{0,127}$/.test(x)));
      // RFC 5988 `Link: </v2/x/tags/list?n=100&last=y>; rel="next"`.
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      next = link?.[1];
    }
    return out;
  }

  // ---- login -----------------------------------------------------------------------------------

  async login(serverAddress: string, creds: Credentials, signal?: AbortSignal): Promise<void> {
    const domain = loginDomain(serverAddress);
    const t = new RegistryTransport(domain, creds, this.hosts); // docker.io fails here, before any network access
    const res = await t.request('GET', '/v2/', { signal });
    res.resume();
    if (res.statusCode === 200) return;
    if (res.statusCode === 401) throw new BerthError('Unauthenticated', `login to ${domain} failed: unauthorized: incorrect username or password`);
    throw registryError(res.statusCode ?? 0, Buffer.alloc(0), `login to ${domain}`);
  }
}

/** `https://127.0.0.1:5000/v2/` and `127.0.0.1:5000` both name the registry `127.0.0.1:5000`. */
export function loginDomain(serverAddress: string): string {
  let s = serverAddress.trim().replace(/^[a-z]+:\/\//i, '');
  s = s.replace(/\/.*$/, '');
  if (!s || s === 'index.docker.io' || s === 'registry-1.docker.io') return 'docker.io';
  return s;
}

function parsePlatform(p: string | undefined): { os: string; architecture: string; variant?: string } {
  if (!p) return { os: 'linux', architecture: hostArchitecture() };
  const [os, architecture, variant] = p.split('/');
  if (!os || !architecture) throw invalidArgument(`invalid platform ${JSON.stringify(p)}: want os/arch[/variant]`);
  return { os, architecture: architecture === 'x86_64' ? 'amd64' : architecture, variant };
}

async function readJsonBlob<T>(content: PullTarget['content'], d: Digest): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const c of content.get(d)) chunks.push(c as Buffer);
  return parseJsonBlob<T>(Buffer.concat(chunks), d);
}

function parseJsonBlob<T>(body: Buffer, d: Digest): T {
  try { return JSON.parse(body.toString()) as T; } catch { throw invalidArgument(`blob ${d}: not JSON`); }
}

export type { Progress };
