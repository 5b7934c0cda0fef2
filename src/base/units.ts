/**
 * Human-readable durations and sizes exactly as Docker prints them (github.com/docker/go-units),
 * shared by the API's Status strings and the CLI's tables, and the parsers for size and duration
 * flags.
 */
/** go-units HumanDuration: "Less than a second", "3 seconds", "About a minute", "2 hours", "3 weeks"... */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3600000) / 24 / 365)} years`;
}

/** "2 minutes ago" for a time `then` (ms since epoch), as docker's CREATED columns. */
export function timeAgo(thenMs: number, nowMs = Date.now()): string {
  return `${humanDuration(nowMs - thenMs)} ago`;
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function sizeAndUnit(size: number, base: number, units: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) { size /= base; i++; }
  return [size, units[i]];
}

/** go-units HumanSizeWithPrecision: decimal units, "%.*g" ("4.26MB", "123kB", "0B"). */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [s, u] = sizeAndUnit(size, 1000, DECIMAL);
  return `${formatG(s, precision)}${u}`;
}

/** go-units HumanSize (precision 4). */
export function humanSize(size: number): string { return humanSizeWithPrecision(size, 4); }

/** go-units BytesSize: binary units, "%.4g" ("1.5GiB"). */
export function bytesSize(size: number): string {
  const [s, u] = sizeAndUnit(size, 1024, BINARY);
  return `${formatG(s, 4)}${u}`;
}

/** go-units RAMInBytes (its parseSize with binary units), with its error messages: `--memory 512m`, `--shm-size 64MB`. */
export function parseRAM(s: string): number {
  const sep = Math.max(...[...'0123456789. '].map((c) => s.lastIndexOf(c)));
  if (sep === -1) throw new Error(`invalid size: '${s}'`);
  const num = s[sep] !== ' ' ? s.slice(0, sep + 1) : s.slice(0, sep);
  let sfx = s.slice(sep + 1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(num)}: invalid syntax`);
  const size = Number(num);
  if (size < 0) throw new Error(`invalid size: '${s}'`);
  if (!sfx) return Math.trunc(size);
  const bad = () => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const mul = ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 } as Record<string, number>)[sfx[0]];
  if (!mul || (sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size * mul);
}

/** Go's time.ParseDuration ("1h30m", "10s", "500ms") in milliseconds. */
export function parseGoDuration(s: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0, pos = 0;
  let sign = 1;
  if (s.startsWith('-')) { sign = -1; pos = 1; } else if (s.startsWith('+')) pos = 1;
  if (pos >= s.length) throw new Error(`time: invalid duration "${s}"`);
  const mult: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new Error(`time: invalid duration "${s}"`);
    total += Number(m[1]) * mult[m[2]];
    pos = re.lastIndex;
  }
  return sign * total;
}

/** Go's %.*g: `precision` significant digits, trailing zeros dropped, exponent form (e+03) when the
 * exponent is below -4 or at least the precision. */
function formatG(v: number, precision: number): string {
  if (v === 0) return '0';
  const [mantissa, expText] = v.toExponential(precision - 1).split('e');
  const exp = Number(expText);
  const trim = (t: string) => (t.includes('.') ? t.replace(/\.?0+$/, '') : t);
  if (exp < -4 || exp >= precision) return `${trim(mantissa)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return trim(v.toFixed(Math.max(0, precision - 1 - exp)));
}
