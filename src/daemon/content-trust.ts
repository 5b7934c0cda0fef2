import type { Digest } from '../base/digest';
import { invalidArgument, notFound, permissionDenied } from '../base/errors';
import type { ImageRecord } from '../image/image-store';
import { fullString, parseReference, repositoryName } from '../oci/reference';
import type { Credentials } from '../registry/client/transport';
import type { RegistryClient } from '../registry/client/registry-client';
import { ACCEPT_ALL, acceptsAll, checkSignatures, evaluate, requirementFor, type Requirement, type SignatureCheck, type TrustPolicy, type TrustedKey } from '../security/trust-policy';
import { parseSimpleSigning } from '../oci/signature';
import type { Db } from '../sys/database';

/** What a request adds to the daemon's policy: the keys the client trusts (BERTH_CONTENT_TRUST=1). */
export interface TrustRequest { keys: TrustedKey[] }

export interface TrustInspection {
  /** The full reference inspected and the manifest digest it names now. */
  reference: string;
  repository: string;
  digest: Digest;
  signatures: SignatureCheck[];
}

/**
 * Content trust in the engine: the daemon's policy (berthd --content-trust-policy) plus what a
 * request adds, enforced on pull and on container create.
 *
 * - Pull: when the image's scope requires signatures, the manifest digest the reference names is
 *   checked before anything is stored (PullRequest.verify): its cosign signatures are fetched from
 *   the registry and verified (security/trust-policy.ts). The image pulled is exactly that digest.
 *   Each (repository, digest, key) that verified is recorded.
 * - Create: a name whose scope requires signatures must resolve to a local image carrying a repo
 *   digest of that repository that a trusted key was recorded for; otherwise the image counts as
 *   absent (404), so the docker and berth CLIs pull it, which verifies or refuses with the reason.
 *   Creating by image ID is refused while signatures are required (an ID names no repository).
 *   Records are kept, not re-fetched, so `run` works offline once an image is verified, as a
 *   pulled image does.
 */
export class ContentTrust {
  private readonly policy: TrustPolicy;

  constructor(private readonly o: { registry: RegistryClient; images: { find(ref: string): ImageRecord | undefined }; db: Db; policy?: TrustPolicy }) {
    this.policy = o.policy ?? ACCEPT_ALL;
    o.db.exec(`CREATE TABLE IF NOT EXISTS trust_verified (repository TEXT NOT NULL, digest TEXT NOT NULL, key TEXT NOT NULL,
      time_ms INTEGER NOT NULL, PRIMARY KEY (repository, digest, key))`);
  }

  /** The requirements for a repository: the policy's, and the request's when it brings keys. */
  requirements(repository: string, req?: TrustRequest): Requirement[] {
    const out = [requirementFor(this.policy, repository)];
    if (req) out.push({ kind: 'signed', keys: req.keys });
    return out;
  }

  /**
   * The check a pull of `ref` runs on its manifest digest, or undefined when nothing is required.
   * Throws at once (PermissionDenied) when the policy rejects the repository.
   */
  pullGate(ref: string, req: TrustRequest | undefined, creds: Credentials, signal?: AbortSignal): ((d: Digest) => Promise<void>) | undefined {
    const parsed = parseReference(ref);
    const repository = repositoryName(parsed);
    const requirements = this.requirements(repository, req);
    if (acceptsAll(requirements)) return undefined;
    // Refused before the registry is asked anything.
    if (requirements.some((r) => r.kind === 'reject')) throw permissionDenied(`content trust: the policy rejects images from ${repository}`);
    return async (digest) => {
      const checks = await this.check(repository, digest, requirements, creds, signal);
      const verified = new Set(checks.filter((c) => c.verified).map((c) => c.verifiedBy!));
      const verdict = evaluate(requirements, verified, `${fullString(parsed)} (${digest})`, checks);
      if (!verdict.ok) throw permissionDenied(verdict.reason);
    };
  }

  /** Throws when `image` may not be used for a container (see the class comment). */
  checkCreate(image: string, req: TrustRequest | undefined): void {
    const img = this.o.images.find(image);
    if (!img) return; // the engine answers 404 and the client pulls
    const isId = /^(sha256:)?[0-9a-f]{4,64}$/.test(image) && img.id.replace(/^sha256:/, '').startsWith(image.replace(/^sha256:/, ''));
    if (isId) {
      // An ID names no repository: allowed only when nothing is required of any name the image has.
      const repos = [...img.repoTags, ...img.repoDigests].map((r) => { try { return repositoryName(parseReference(r)); } catch { return ''; } });
      if (![...repos, ''].every((r) => acceptsAll(this.requirements(r, req)))) {
        throw permissionDenied('content trust: an image ID names no repository to verify; use a signed name (repository:tag or @digest)');
      }
      return;
    }
    let parsed;
    try { parsed = parseReference(image); } catch { throw invalidArgument(`invalid reference format: ${image}`); }
    const repository = repositoryName(parsed);
    const requirements = this.requirements(repository, req);
    if (acceptsAll(requirements)) return;
    if (requirements.some((r) => r.kind === 'reject')) throw permissionDenied(`content trust: the policy rejects images from ${repository}`);
    const digests = img.repoDigests.map((r) => parseReference(r)).filter((r) => repositoryName(r) === repository && r.digest && (!parsed.digest || r.digest === parsed.digest)).map((r) => r.digest!);
    const rows = this.o.db.prepare('SELECT key FROM trust_verified WHERE repository = ? AND digest = ?');
    for (const d of digests) {
      const keys = new Set((rows.all(repository, d) as Array<{ key: string }>).map((r) => r.key));
      if (evaluate(requirements, keys, image).ok) return;
    }
    throw notFound(`No such image: ${image} (content trust: no verified copy is present locally; pull it)`);
  }

  /** Lists the signatures of what `ref` names now, checked against the policy's and the request's keys. */
  async inspect(ref: string, req: TrustRequest | undefined, creds: Credentials, signal?: AbortSignal): Promise<TrustInspection> {
    const parsed = parseReference(ref);
    const repository = repositoryName(parsed);
    const { digest } = await this.o.registry.resolve(fullString(parsed), creds, signal);
    const checks = await this.check(repository, digest, this.requirements(repository, req), creds, signal);
    return { reference: fullString(parsed), repository, digest, signatures: checks };
  }

  /**
   * Stores a signature made by a client (berth trust sign) for what `ref` names now. The payload
   * must be a cosign payload for this repository and this digest: a signature for something else
   * is refused before anything is pushed.
   */
  async sign(ref: string, payload: Buffer, signature: string, creds: Credentials, signal?: AbortSignal): Promise<{ digest: Digest; signature: Digest }> {
    const parsed = parseReference(ref);
    const repository = repositoryName(parsed);
    const p = parseSimpleSigning(payload);
    if (!p) throw invalidArgument('content trust: the payload is not a cosign simple-signing payload');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) throw invalidArgument('content trust: the signature is not base64');
    const subject = await this.o.registry.resolve(fullString(parsed), creds, signal);
    if (p.manifestDigest !== subject.digest) throw invalidArgument(`content trust: the payload signs ${p.manifestDigest} but ${fullString(parsed)} is ${subject.digest}`);
    let claimed;
    try { claimed = repositoryName(parseReference(p.dockerReference, { defaultTag: false })); } catch { claimed = p.dockerReference; }
    if (claimed !== repository) throw invalidArgument(`content trust: the payload names ${p.dockerReference}, not ${repository}`);
    const sig = await this.o.registry.pushSignature(fullString({ domain: parsed.domain, path: parsed.path }), subject, payload, signature, creds, signal);
    return { digest: subject.digest, signature: sig };
  }

  private async check(repository: string, digest: Digest, requirements: Requirement[], creds: Credentials, signal?: AbortSignal): Promise<SignatureCheck[]> {
    const keys = new Map<string, TrustedKey>();
    for (const r of requirements) if (r.kind === 'signed') for (const k of r.keys) keys.set(k.fingerprint, k);
    const found = await this.o.registry.signatures(repository, digest, creds, signal);
    const checks = checkSignatures(found, { repository, digest }, [...keys.values()]);
    const record = this.o.db.prepare('INSERT OR REPLACE INTO trust_verified (repository, digest, key, time_ms) VALUES (?, ?, ?, ?)');
    for (const c of checks) if (c.verified) record.run(repository, digest, c.verifiedBy!, Date.now());
    return checks;
  }
}
