/**
 * Human-readable durations and sizes exactly as Docker prints them (go-units HumanDuration and
 * HumanSizeWithPrecision), shared by the API's Status strings and the CLI's tables.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSizeWithPrecision(size, 3): `4.26MB`, `1.2kB`, `512B`. */
export function humanSize(bytes: number, precision = 3): string {
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < DECIMAL_UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${formatG(v, precision)}${DECIMAL_UNITS[i]}`;
}

/** Go's %.*g: significant digits, no trailing zeros, no exponent for the magnitudes sizes reach. */
function formatG(v: number, precision: number): string {
  if (v === 0) return '0';
  const s = v.toPrecision(precision);
  return s.includes('e') ? String(Number(s)) : s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}
