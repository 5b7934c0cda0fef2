// The berth CLI's config directory and its config.json, in Docker's format: registry credentials
// under `auths`, keyed by server address, each with `auth` = base64("user:password") (or an
// `identitytoken`). Written 0600 through a temp file and rename, as docker's configfile does.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import type { AuthConfig } from '../client/types';

interface AuthEntry { auth?: string; identitytoken?: string; email?: string }
interface ConfigJson { auths?: Record<string, AuthEntry>; [k: string]: unknown }

/** Docker Hub's key in `auths`, as the docker CLI writes it. */
export const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

/** `--config DIR`, else $BERTH_CONFIG, else ~/.berth. */
export function configDir(flag?: string): string {
  return flag || process.env.BERTH_CONFIG || join(homedir(), '.berth');
}

/** `https://127.0.0.1:5000/v2/` -> `127.0.0.1:5000` (docker's ConvertToHostname); Hub names -> the Hub key. */
export function registryKey(server: string): string {
  const s = server.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (!s || s === 'docker.io' || s === 'index.docker.io' || s === 'registry-1.docker.io') return DOCKER_HUB_SERVER;
  return s;
}

/** The registry host of an image reference (`127.0.0.1:5000/a/b:1` -> `127.0.0.1:5000`), docker's rule. */
export function registryOfImage(ref: string): string {
  const i = ref.indexOf('/');
  const first = i < 0 ? '' : ref.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) return DOCKER_HUB_SERVER;
  return registryKey(first);
}

export class ConfigFile {
  readonly path: string;
  constructor(readonly dir: string) { this.path = join(dir, 'config.json'); }

  private read(): ConfigJson {
    try { return JSON.parse(readFileSync(this.path, 'utf8')) as ConfigJson; } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(`loading config file ${this.path}: ${(e as Error).message}`);
    }
  }

  private write(doc: ConfigJson): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(doc, null, '\t'), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
  }

  /** The stored credentials for a registry (by any spelling of its address), if any. */
  auth(server: string): AuthConfig | undefined {
    const key = registryKey(server);
    const auths = this.read().auths ?? {};
    const entry = Object.entries(auths).find(([k]) => registryKey(k) === key)?.[1];
    return entry ? this.authOf(key, entry) : undefined;
  }

  /** Every registry's stored credentials, by registry (what a build may need to pull its bases). */
  allAuths(): Record<string, AuthConfig> {
    const out: Record<string, AuthConfig> = {};
    for (const [k, entry] of Object.entries(this.read().auths ?? {})) out[registryKey(k)] = this.authOf(registryKey(k), entry);
    return out;
  }

  private authOf(key: string, entry: AuthEntry): AuthConfig {
    const out: AuthConfig = { serveraddress: key };
    if (entry.auth) {
      const plain = Buffer.from(entry.auth, 'base64').toString();
      const colon = plain.indexOf(':');
      if (colon < 0) throw new Error(`invalid auth configuration file ${this.path}: bad auth for ${key}`);
      out.username = plain.slice(0, colon);
      out.password = plain.slice(colon + 1);
    }
    if (entry.identitytoken) out.identitytoken = entry.identitytoken;
    return out;
  }

  store(server: string, a: AuthConfig): void {
    const doc = this.read();
    const auths = { ...(doc.auths ?? {}) };
    const key = registryKey(server);
    for (const k of Object.keys(auths)) if (registryKey(k) === key) delete auths[k];
    const entry: AuthEntry = {};
    if (a.identitytoken) entry.identitytoken = a.identitytoken;
    else entry.auth = Buffer.from(`${a.username ?? ''}:${a.password ?? ''}`).toString('base64');
    auths[key] = entry;
    this.write({ ...doc, auths });
  }

  /** Removes a registry's credentials; false when there were none. */
  remove(server: string): boolean {
    const doc = this.read();
    const auths = { ...(doc.auths ?? {}) };
    const key = registryKey(server);
    const keys = Object.keys(auths).filter((k) => registryKey(k) === key);
    if (!keys.length) return false;
    for (const k of keys) delete auths[k];
    this.write({ ...doc, auths });
    return true;
  }
}

/** X-Registry-Auth: base64url JSON, as the docker CLI encodes it (registry.EncodeAuthConfig). */
export function encodeAuthHeader(a: AuthConfig | undefined): string | undefined {
  if (!a) return undefined;
  return Buffer.from(JSON.stringify(a)).toString('base64url');
}
