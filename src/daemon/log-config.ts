import { invalidArgument } from '../base/errors';

/**
 * Log drivers and their options, checked as dockerd checks them (pure; docs/logging.md).
 *
 * A container's LogConfig is merged with the daemon's default as dockerd does: an empty Type takes
 * the daemon's driver, and when the types match, daemon options fill in the keys the container did
 * not set. Then the keys are checked (Docker's "unknown log opt" errors) and, unlike dockerd, which
 * only parses values when the container starts, the values too: a bad max-size fails the create.
 *
 * Rotation is on by default: json-file without max-size/max-file keeps at most DEFAULT_MAX_FILES
 * files of DEFAULT_MAX_SIZE (Docker's default is one unbounded file); `max-size=-1` asks for
 * that unbounded file (a berth extension). `local` keeps Docker's defaults (20 MiB x 5, compressed).
 */

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/** What the runtime is asked to do with a container's output. */
export type LogPolicy =
  | { driver: 'none' }
  | {
    driver: 'json-file' | 'local';
    /** Bytes before the live file is rotated; undefined for never. */
    maxSize?: number;
    /** Files kept, the live one included (>= 1). */
    maxFiles: number;
    /** gzip the rotated files. */
    compress: boolean;
  };

export const LOG_DRIVERS = ['json-file', 'local', 'none'] as const;

/** json-file defaults: the same as Docker's `local` driver, so switching drivers costs no disk. */
export const DEFAULT_MAX_SIZE = '20m';
export const DEFAULT_MAX_FILES = '5';
const LOCAL_MAX_SIZE = 20 * 1024 * 1024;
const LOCAL_MAX_FILES = 5;

/** Options every driver accepts (dockerd's builtInLogOpts). */
const COMMON_KEYS = ['mode', 'max-buffer-size'];
/** Attributes Docker adds to each entry; accepted, not recorded (docs/logging.md). */
const ATTRIBUTE_KEYS = ['labels', 'labels-regex', 'env', 'env-regex', 'tag'];
const DRIVER_KEYS: Record<string, string[]> = {
  'json-file': ['max-file', 'max-size', 'compress', ...ATTRIBUTE_KEYS],
  local: ['max-file', 'max-size', 'compress', ...ATTRIBUTE_KEYS],
};

/** dockerd's mergeAndVerifyLogConfig, without the verify: the daemon default fills in. */
export function mergeLogConfig(requested: Partial<LogConfig> | null | undefined, daemon: LogConfig): LogConfig {
  const Type = requested?.Type || daemon.Type;
  const Config: Record<string, string> = { ...(requested?.Config ?? {}) };
  if (Type === daemon.Type) for (const [k, v] of Object.entries(daemon.Config)) if (!(k in Config)) Config[k] = v;
  return { Type, Config };
}

/** Checks a (merged) LogConfig and returns what it asks for; InvalidArgument with Docker's text. */
export function logPolicyOf(cfg: LogConfig): LogPolicy {
  if (cfg.Type === 'none') return { driver: 'none' };
  const opts = cfg.Config ?? {};
  const mode = opts.mode ?? '';
  if (!['', 'blocking', 'non-blocking'].includes(mode)) throw invalidArgument(`logger: logging mode not supported: ${mode}`);
  if ('max-buffer-size' in opts) {
    if (mode !== 'non-blocking') throw invalidArgument("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    try { parseRamSize(opts['max-buffer-size']); } catch (e) { throw invalidArgument(`error parsing option max-buffer-size: ${(e as Error).message}`); }
  }
  const keys = DRIVER_KEYS[cfg.Type];
  if (!keys) throw invalidArgument(`logger: no log driver named '${cfg.Type}' is registered`);
  for (const k of Object.keys(opts)) {
    if (COMMON_KEYS.includes(k) || keys.includes(k)) continue;
    throw invalidArgument(cfg.Type === 'json-file' ? `unknown log opt '${k}' for json-file log driver` : `unknown log opt '${k}' for log driver ${cfg.Type}`);
  }
  return cfg.Type === 'json-file' ? jsonFilePolicy(opts) : localPolicy(opts);
}

/** The checks of Docker's jsonfilelog.New, with berth's defaults for absent keys. */
function jsonFilePolicy(opts: Record<string, string>): LogPolicy {
  const fail = (msg: string) => invalidArgument(`failed to initialize logging driver: ${msg}`);
  const sizeText = opts['max-size'] ?? DEFAULT_MAX_SIZE;
  let maxSize: number | undefined;
  if (sizeText !== '-1') {
    try { maxSize = fromHumanSize(sizeText); } catch (e) { throw fail((e as Error).message); }
    if (maxSize <= 0) throw fail('max-size must be a positive number');
  }
  let maxFiles: number;
  try { maxFiles = goAtoi(opts['max-file'] ?? (maxSize === undefined ? '1' : DEFAULT_MAX_FILES)); } catch (e) { throw fail((e as Error).message); }
  if (maxFiles < 1) throw fail('max-file cannot be less than 1');
  let compress = false;
  if ('compress' in opts) {
    try { compress = goParseBool(opts.compress); } catch (e) { throw fail((e as Error).message); }
    if (compress && (maxFiles === 1 || maxSize === undefined)) throw fail('compress cannot be true when max-file is less than 2 or max-size is not set');
  }
  if (maxSize === undefined) maxFiles = 1;
  return { driver: 'json-file', maxSize, maxFiles, compress };
}

/** The checks of Docker's local driver (daemon/logger/local/config.go). */
function localPolicy(opts: Record<string, string>): LogPolicy {
  const fail = (msg: string) => invalidArgument(`failed to initialize logging driver: ${msg}`);
  let maxSize: number | undefined = LOCAL_MAX_SIZE;
  let maxFiles = LOCAL_MAX_FILES;
  let compress = true;
  if ('max-size' in opts) {
    const v = opts['max-size'];
    if (v === '-1') maxSize = undefined;
    else {
      try { maxSize = fromHumanSize(v); } catch (e) { throw fail(`invalid value for max-size: ${v}: ${(e as Error).message}`); }
    }
  }
  if ('max-file' in opts) {
    const v = opts['max-file'];
    try { maxFiles = goAtoi(v); } catch (e) { throw fail(`invalid value for max-file: ${v}: ${(e as Error).message}`); }
  }
  if ('compress' in opts) {
    try { compress = goParseBool(opts.compress); } catch (e) { throw fail(`invalid boolean value for compress: ${(e as Error).message}`); }
  }
  if (maxSize !== undefined && maxSize < 0) throw fail('max-size must not be negative');
  if (maxFiles < 0) throw fail('max-file must not be negative');
  if (compress && maxFiles <= 1) throw fail('compression cannot be enabled when max file count is 1');
  // Docker's local driver treats a zero size as "no limit" and a zero count as one file.
  if (maxSize === 0) maxSize = undefined;
  if (maxSize === undefined) maxFiles = 1;
  return { driver: 'local', maxSize, maxFiles: Math.max(1, maxFiles), compress: compress && maxSize !== undefined };
}

const SIZE_RE = /^(\d+(\.\d+)*) ?([kmgtp])?i?b?$/i;

function parseSizeWith(s: string, base: number): number {
  const m = SIZE_RE.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  if (!/^\d+(\.\d+)?$/.test(m[1])) throw new Error(`strconv.ParseFloat: parsing "${m[1]}": invalid syntax`);
  const exp = m[3] ? 'kmgtp'.indexOf(m[3].toLowerCase()) + 1 : 0;
  return Math.trunc(Number(m[1]) * base ** exp);
}

/** go-units FromHumanSize: decimal units ("10m" = 10,000,000; "10MiB" too, as Docker reads it). */
export function fromHumanSize(s: string): number {
  return parseSizeWith(s, 1000);
}

/** go-units RAMInBytes: binary units. */
export function parseRamSize(s: string): number {
  return parseSizeWith(s, 1024);
}

/** Go's strconv.Atoi, with its error text. */
export function goAtoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** Go's strconv.ParseBool, with its error text. */
export function goParseBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

/** Parses `key=value` pairs from berthd's --log-opt flags. */
export function parseLogOptFlags(flags: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw invalidArgument(`invalid key value pair format in log options: ${f}`);
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}
