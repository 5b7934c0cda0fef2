/**
 * Request paths of the distribution API, parsed without decoding or normalising: a name with
 * `..`, an encoded slash (`%2F`) or an uppercase letter never matches the spec's regular expression
 * and is refused with NAME_INVALID before any file is touched. (`new URL()` would resolve `..`
 * segments, so paths are never passed through it.)
 */
import { isDigest, type Digest } from '../../base/digest';
import { registryError } from './errors';

// distribution-spec v1.1, "Pulling manifests": <name> and <reference>.
const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// distribution limits names to 255 characters, which also keeps every path under NAME_MAX per part.
const NAME_MAX = 255;

export function isValidName(name: string): boolean {
  return name.length <= NAME_MAX && NAME_RE.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function checkName(name: string): string {
  if (!isValidName(name)) throw registryError('InvalidArgument', 'name', `invalid repository name ${JSON.stringify(name)}`, { name });
  return name;
}

export function checkDigest(s: string): Digest {
  if (!isDigest(s)) throw registryError('InvalidArgument', 'digest', `invalid or unsupported digest ${JSON.stringify(s)} (only sha256)`, { digest: s });
  return s;
}

/** A manifest reference: a digest, or a tag. */
export type ManifestRef = { digest: Digest } | { tag: string };

export function parseManifestRef(s: string): ManifestRef {
  if (s.includes(':')) return { digest: checkDigest(s) };
  if (!isValidTag(s)) throw registryError('InvalidArgument', 'manifest', `invalid tag ${JSON.stringify(s)}`, { tag: s });
  return { tag: s };
}

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: string };

const ROUTES: [RegExp, (m: RegExpMatchArray) => Route][] = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1] })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1], reference: m[2] })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1] })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1], id: m[2] })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1], digest: m[2] })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1], digest: m[2] })],
];

/** The route of a raw request path (no query), or undefined. Names are checked here. */
export function parseRoute(path: string): Route | undefined {
  for (const [re, make] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    const route = make(m);
    if ('name' in route) checkName(route.name);
    return route;
  }
  return undefined;
}

/** Query parameters of a raw request URL (decoded: they are values, not path segments). */
export function parseQuery(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}

export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
