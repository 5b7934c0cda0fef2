import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, notFound, wrap } from '../../base/errors';

/**
 * Where legacy plugins are looked for. dockerd looks for sockets in /run/docker/plugins and for
 * spec files in /etc/docker/plugins and /usr/lib/docker/plugins (docs/extend/plugin_api.md,
 * "Plugin discovery"); berthd's --plugin-dir replaces both lists.
 */
export interface PluginDirs {
  sockets: string[];
  specs: string[];
}

export const DOCKER_PLUGIN_DIRS: PluginDirs = {
  sockets: ['/run/docker/plugins'],
  specs: ['/etc/docker/plugins', '/usr/lib/docker/plugins'],
};

/** The same directories for both kinds, in order (what `--plugin-dir` gives). */
export function pluginDirsFrom(dirs: string[]): PluginDirs {
  return dirs.length ? { sockets: [...dirs], specs: [...dirs] } : DOCKER_PLUGIN_DIRS;
}

/** Where a plugin listens: `unix:///path`, `tcp://host:port` or `http://host:port[/base]`. */
export interface PluginAddress {
  name: string;
  addr: string;
}

/** One file discovery may read, in the order dockerd tries them. */
export interface Candidate {
  path: string;
  kind: 'sock' | 'spec' | 'json';
}

// A legacy plugin's name becomes a file name: no separators, no dot-dot, nothing to escape the dirs.
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validPluginName(name: string): boolean {
  return NAME_RE.test(name) && !name.includes('..');
}

/**
 * The files that may define plugin `name`, first match wins: every socket (NAME.sock, then
 * NAME/NAME.sock) before any spec; per spec dir NAME.spec, NAME/NAME.spec, NAME.json, NAME/NAME.json.
 */
export function candidates(dirs: PluginDirs, name: string): Candidate[] {
  const both = (base: string, ext: string) => [join(base, `${name}.${ext}`), join(base, name, `${name}.${ext}`)];
  return [
    ...dirs.sockets.flatMap((d) => both(d, 'sock').map((path) => ({ path, kind: 'sock' as const }))),
    ...dirs.specs.flatMap((d) => [
      ...both(d, 'spec').map((path) => ({ path, kind: 'spec' as const })),
      ...both(d, 'json').map((path) => ({ path, kind: 'json' as const })),
    ]),
  ];
}

/**
 * A spec file's address. `.spec` holds a URL (`unix:///run/p.sock`, `tcp://127.0.0.1:8080`);
 * `.json` holds `{"Name": .., "Addr": .., "TLSConfig": ..}`. InvalidArgument when it holds
 * neither, or asks for TLS, which berth does not speak to plugins.
 */
export function parseSpec(kind: 'spec' | 'json', text: string, where: string): string {
  let addr: string;
  if (kind === 'json') {
    let doc: unknown;
    try { doc = JSON.parse(text); } catch (e) { throw invalidArgument(`${where}: invalid plugin spec: ${(e as Error).message}`); }
    const o = (doc ?? {}) as { Addr?: unknown; TLSConfig?: unknown };
    if (typeof o.Addr !== 'string' || !o.Addr) throw invalidArgument(`${where}: invalid plugin spec: no Addr`);
    if (o.TLSConfig) throw invalidArgument(`${where}: TLS to plugins is not supported`);
    addr = o.Addr.trim();
  } else {
    addr = text.trim();
  }
  checkAddress(addr, where);
  return addr;
}

/** Accepts the URL forms berth can dial. */
export function checkAddress(addr: string, where: string): void {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(addr);
  // dockerd's readPluginInfo: "Unknown protocol" when the URL has no scheme.
  if (!m) throw invalidArgument(`${where}: Unknown protocol: ${JSON.stringify(addr)}`);
  const scheme = m[1].toLowerCase();
  if (scheme === 'unix') {
    if (!m[2].startsWith('/')) throw invalidArgument(`${where}: unix address must be an absolute path: ${addr}`);
    return;
  }
  if (scheme === 'https') throw invalidArgument(`${where}: TLS to plugins is not supported: ${addr}`);
  if (scheme !== 'tcp' && scheme !== 'http') throw invalidArgument(`${where}: unsupported plugin address scheme: ${addr}`);
  if (!/^[^/:]+:\d+(\/.*)?$|^\[[0-9a-fA-F:]+\]:\d+(\/.*)?$/.test(m[2])) throw invalidArgument(`${where}: plugin address needs host:port: ${addr}`);
}

/**
 * Finds plugin `name` in `dirs` as dockerd does: a socket file wins, then the first spec file.
 * NotFound (`plugin "NAME" not found`, dockerd's text) when nothing defines it.
 */
export function findPlugin(dirs: PluginDirs, name: string): PluginAddress {
  if (!validPluginName(name)) throw notFound(`plugin "${name}" not found`);
  for (const c of candidates(dirs, name)) {
    let st;
    try { st = statSync(c.path); } catch { continue; }
    if (c.kind === 'sock') {
      if (st.isSocket()) return { name, addr: `unix://${c.path}` };
      continue;
    }
    let text: string;
    try { text = readFileSync(c.path, 'utf8'); } catch (e) { throw wrap(e, `read plugin spec ${c.path}`); }
    return { name, addr: parseSpec(c.kind, text, c.path) };
  }
  throw notFound(`plugin "${name}" not found`);
}
