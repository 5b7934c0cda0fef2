import type { ImageRuntimeConfig } from '../oci/image';
import { invalidArgument } from '../base/errors';

const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL']);

/** `["a", "b"]` stays a list; anything else is shell form, run through `/bin/sh -c`. */
function commandOf(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch { /* not JSON: shell form, as Docker treats it */ }
  }
  return ['/bin/sh', '-c', t];
}

/** Splits `k=v k2="v 2"` (or the legacy `k v`) into pairs, honouring double quotes. */
function keyValues(rest: string, instruction: string): Array<[string, string]> {
  const t = rest.trim();
  if (!t.includes('=') || /^[^=\s]+\s/.test(t) && !/^[^=\s]+=/.test(t)) {
    const m = /^(\S+)\s+(.*)$/.exec(t);
    if (!m) throw invalidArgument(`${instruction} requires at least one argument`);
    return [[m[1], m[2]]];
  }
  const pairs: Array<[string, string]> = [];
  const re = /([^\s=]+)=("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t))) {
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4] !== undefined ? m[4] : m[5];
    pairs.push([m[1], value]);
  }
  if (!pairs.length) throw invalidArgument(`${instruction} requires at least one argument`);
  return pairs;
}

/**
 * Applies `docker commit/import --change` lines (a subset of Dockerfile instructions) to a config.
 * Returns a new object; InvalidArgument for instructions Docker refuses there.
 */
export function applyConfigChanges(base: ImageRuntimeConfig, changes: string[]): ImageRuntimeConfig {
  const cfg: ImageRuntimeConfig = structuredClone(base);
  for (const line of changes) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(line);
    if (!m) continue;
    const instruction = m[1].toUpperCase();
    const rest = m[2];
    if (!ALLOWED.has(instruction)) throw invalidArgument(`${instruction} is not a valid change command`);
    switch (instruction) {
      case 'CMD': cfg.Cmd = commandOf(rest); break;
      case 'ENTRYPOINT': cfg.Entrypoint = commandOf(rest); break;
      case 'ENV': {
        const env = [...(cfg.Env ?? [])];
        for (const [k, v] of keyValues(rest, 'ENV')) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`; else env.push(`${k}=${v}`);
        }
        cfg.Env = env;
        break;
      }
      case 'LABEL':
        cfg.Labels = { ...(cfg.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, 'LABEL')) cfg.Labels[k] = v;
        break;
      case 'EXPOSE':
        cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/).filter(Boolean)) cfg.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        break;
      case 'VOLUME': {
        cfg.Volumes = { ...(cfg.Volumes ?? {}) };
        const list = rest.trim().startsWith('[') ? commandOf(rest) : rest.trim().split(/\s+/);
        for (const v of list.filter(Boolean)) cfg.Volumes[v] = {};
        break;
      }
      case 'USER': cfg.User = rest.trim(); break;
      case 'WORKDIR': cfg.WorkingDir = rest.trim(); break;
      case 'STOPSIGNAL': cfg.StopSignal = rest.trim(); break;
      case 'ONBUILD': cfg.OnBuild = [...(cfg.OnBuild ?? []), rest.trim()]; break;
    }
  }
  return cfg;
}
