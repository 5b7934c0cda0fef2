/** Where the engine listens, parsed from `-H`, BERTH_HOST or DOCKER_HOST. */
export interface EngineHost {
  /** The host as given, e.g. `unix:///run/berth/berth.sock`, for messages. */
  readonly url: string;
  readonly socketPath?: string;
  readonly hostname?: string;
  readonly port?: number;
}

export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/** Picks the host the way docker does: the flag first, then the environment (ours before Docker's). */
export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_HOST;
}

/** Parses `unix:///path`, `/path`, `tcp://host:port`, `http://host:port`, `host:port`. */
export function parseHost(url: string): EngineHost {
  if (url.startsWith('unix://')) return { url, socketPath: url.slice('unix://'.length) };
  if (url.startsWith('/')) return { url: `unix://${url}`, socketPath: url };
  const m = /^(?:(?:tcp|http):\/\/)?(\[[^\]]+\]|[^:/]*)(?::(\d+))?\/?$/.exec(url);
  if (!m) throw new Error(`unable to parse docker host \`${url}\``);
  return { url, hostname: (m[1] || '127.0.0.1').replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 2375 };
}
