import { EngineClient } from '../client/engine-client';
import { ConfigFile, configDir } from './config-file';
import type { CommandSpec, Parsed } from './flags';

/** What a command gets: the lazily created client and the process's streams. */
export class Cli {
  private engine?: EngineClient;
  private stdin?: NodeJS.ReadStream;
  // process.stdout/stderr/stdin are getters that build a stream on first use: stdin is made only
  // when a command reads it (a few ms at start-up otherwise).
  constructor(readonly prog: string, readonly host: string,
    readonly out: NodeJS.WriteStream = process.stdout, readonly err: NodeJS.WriteStream = process.stderr,
    input?: NodeJS.ReadStream) { this.stdin = input; }
  get input(): NodeJS.ReadStream {
    this.stdin ??= process.stdin;
    return this.stdin;
  }
  get client(): EngineClient {
    this.engine ??= new EngineClient(this.host, { apiVersion: process.env.DOCKER_API_VERSION || undefined });
    return this.engine;
  }
  /** The client config dir (`--config`, $BERTH_CONFIG, ~/.berth): config.json, trust keys. */
  configDir = configDir();
  private config?: ConfigFile;
  get configFile(): ConfigFile {
    this.config ??= new ConfigFile(this.configDir);
    return this.config;
  }
  print(s: string): void { this.out.write(s.endsWith('\n') ? s : `${s}\n`); }
  printErr(s: string): void { this.err.write(s.endsWith('\n') ? s : `${s}\n`); }
}

/** Ends a command with an exit status, printing `message` (if any) on stderr. */
export class StatusError extends Error {
  constructor(readonly status: number, message = '') { super(message); this.name = 'StatusError'; }
}

export interface Command {
  spec: CommandSpec;
  run(cli: Cli, p: Parsed): Promise<number | void>;
}

export const str = (p: Parsed, k: string) => p.opts[k] as string;
export const bool = (p: Parsed, k: string) => p.opts[k] as boolean;
export const list = (p: Parsed, k: string) => p.opts[k] as string[];
export const int = (p: Parsed, k: string) => p.opts[k] as number;
