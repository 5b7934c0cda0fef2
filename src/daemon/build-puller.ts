import type { Digest } from '../base/digest';
import type { ImagePuller, RegistryAuth } from '../build/builder';
import type { ImageRecord, ImageStore } from '../image/image-store';
import { familiarString, fullString, parseReference, withTag } from '../oci/reference';
import type { RegistryClient } from '../registry/client/registry-client';
import type { Credentials } from '../registry/client/transport';
import type { EventBus } from './events';

/** The docker CLI's key for Docker Hub in X-Registry-Config (and the other spellings it may use). */
const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

/**
 * The builder's pulls (`build --pull`, or a base image this host lacks) through the engine's
 * registry client, as `POST /images/create` pulls: the daemon's content-trust policy applies
 * (`verify`), a `pull` event is published, and the progress is what Docker prints in a build.
 */
export class RegistryImagePuller implements ImagePuller {
  constructor(private readonly o: {
    registry: RegistryClient;
    images: ImageStore;
    events: EventBus;
    /** The content-trust gate for a reference (ContentTrust.pullGate without a request), if one applies. */
    verify?: (ref: string, creds: Credentials, signal: AbortSignal) => ((manifestDigest: Digest) => Promise<void>) | undefined;
  }) {}

  async pull(ref: string, opts: { auth?: Record<string, RegistryAuth>; out: (text: string) => void; signal: AbortSignal }): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const full = fullString(parsed.tag || parsed.digest ? parsed : withTag(parsed, 'latest'));
    const creds = credsFor(parsed.domain, opts.auth);
    const before = this.o.images.find(full)?.id;
    const r = await this.o.registry.pull({ ref: full, creds, verify: this.o.verify?.(full, creds, opts.signal) }, (p) => {
      // Byte counts are for terminals; a build's stream gets the lines.
      if (p.current !== undefined || p.aux) return;
      opts.out(`${p.id !== undefined ? `${p.id}: ` : ''}${p.status}\n`);
    }, opts.signal);
    const name = familiarString(parseReference(full));
    this.o.events.publish('image', 'pull', name, {});
    // As dockerd: "newer" when the reference now names another image than before the pull.
    opts.out(`Status: ${before === r.image.id ? 'Image is up to date' : 'Downloaded newer image'} for ${name}\n`);
    return r.image;
  }
}

/** The credentials X-Registry-Config holds for a registry host (Docker Hub under any of its keys). */
function credsFor(domain: string, auth: Record<string, RegistryAuth> | undefined): Credentials {
  if (!auth) return {};
  const keys = domain === 'docker.io' ? HUB_KEYS : [domain, `https://${domain}`, `http://${domain}`];
  for (const [k, v] of Object.entries(auth)) {
    const host = k.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
    if (keys.includes(k) || keys.includes(host)) return { ...v };
  }
  return {};
}
