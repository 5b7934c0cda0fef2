import { invalidArgument } from '../base/errors';
import { Digest } from '../base/digest';

/**
 * Image references, following Docker's grammar (github.com/distribution/reference):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [domain "/"] path-component ["/" path-component]*
 *   domain     := host [":" port]         host: DNS-style components, `localhost`, or `[ipv6]`
 *   path-comp  := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
 *   tag        := [\w][\w.-]{0,127}
 *   digest     := sha256 ":" 64 lowercase hex (the only algorithm berth stores)
 *
 * Normalisation as `docker` does it: the first component is a domain only if it contains `.` or
 * `:` or is `localhost` (or has an uppercase letter); otherwise the domain is `docker.io`, and
 * a one-component path on docker.io gets `library/`. `index.docker.io` becomes `docker.io`.
 */
export interface Reference {
  /** Registry host, e.g. `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path within the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;

const REFERENCE_RE = new RegExp(`^((?:${DOMAIN}/)?${REMOTE_NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const REMOTE_NAME_RE = new RegExp(`^${REMOTE_NAME}$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

const formatError = () => invalidArgument('invalid reference format');

/** Splits a name into domain and remainder exactly as distribution/reference's splitDockerDomain. */
function splitDockerDomain(name: string): [string, string] {
  let domain: string;
  let remainder: string;
  const i = name.indexOf('/');
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

export interface ParseOptions {
  /** Add `:latest` when the reference has neither tag nor digest (default true). */
  defaultTag?: boolean;
}

/**
 * Parses and normalises a reference as the docker CLI does (`busybox` is
 * `docker.io/library/busybox:latest`). Throws InvalidArgument "invalid reference format" (with
 * Docker's wording for uppercase repositories and 64-hex names).
 */
export function parseReference(s: string, opts: ParseOptions = {}): Reference {
  if (IDENTIFIER_RE.test(s)) {
    throw invalidArgument(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain0, remainder] = splitDockerDomain(s);
  // The repository part, without tag or digest, must be lowercase (Docker checks this first to give
  // a clearer message than "invalid reference format").
  const atSep = remainder.indexOf('@');
  const beforeDigest = atSep === -1 ? remainder : remainder.slice(0, atSep);
  const tagSep = beforeDigest.indexOf(':');
  const remote = tagSep === -1 ? beforeDigest : beforeDigest.slice(0, tagSep);
  if (remote.toLowerCase() !== remote) {
    throw invalidArgument(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  const m = REFERENCE_RE.exec(`${domain0}/${remainder}`);
  if (!m) throw formatError();
  const name = m[1];
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalidArgument(`invalid reference format: repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const slash = name.indexOf('/');
  const domain = name.slice(0, slash);
  const path = name.slice(slash + 1);
  if (!DOMAIN_RE.test(domain) || !REMOTE_NAME_RE.test(path)) throw formatError();
  const ref: Reference = { domain, path };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) {
    if (!SHA256_RE.test(m[3])) throw invalidArgument(`invalid reference format: unsupported digest ${m[3]}`);
    ref.digest = m[3] as Digest;
  }
  if (ref.tag === undefined && ref.digest === undefined && opts.defaultTag !== false) ref.tag = DEFAULT_TAG;
  return ref;
}

/** Like parseReference, but undefined instead of an error. */
export function tryParseReference(s: string, opts: ParseOptions = {}): Reference | undefined {
  try {
    return parseReference(s, opts);
  } catch {
    return undefined;
  }
}

/** True for a valid tag (`[\w][\w.-]{0,127}`). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** `docker.io/library/busybox`: the full repository name. */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** `busybox`, `user/x`, `127.0.0.1:5000/x`: the repository name as docker prints it. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** `busybox:latest`, `busybox@sha256:...`: what docker prints. */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + suffix(ref);
}

/** `docker.io/library/busybox:latest`: the fully qualified form. */
export function fullString(ref: Reference): string {
  return repositoryName(ref) + suffix(ref);
}

/** A reference with the given tag (digest dropped): used by `docker tag`. */
export function withTag(ref: Reference, tag: string): Reference {
  if (!isValidTag(tag)) throw formatError();
  return { domain: ref.domain, path: ref.path, tag };
}
