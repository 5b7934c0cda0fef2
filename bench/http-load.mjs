// HTTP/1.0 load generator for bench/measure.sh (published-port throughput). N concurrent clients,
// each opening one connection per request as busybox httpd expects (HTTP/1.0, no keep-alive: the
// server closes after the body), for a fixed time, against 127.0.0.1 only: the host is not an option.
//
//   node bench/http-load.mjs --port P --path /1k [--concurrency 8] [--duration 5] [--warmup 1] [--expect-bytes N]
//   node bench/http-load.mjs --port P --path /1k --check [--expect-bytes N]   # one request; exit 0 if it is a 200
//
// Clients run without a pause from the start of the warm-up to the end of the measured window; a
// request counts if it completes inside the window (one still in flight at the end is dropped, the
// same for every engine). A request is an error if the connection fails or times out (10 s), the
// status is not 200, or the body is not Content-Length (and --expect-bytes) long. Bytes are body
// bytes. Prints one line of JSON:
//   {"requests_per_s", "mb_per_s", "errors", "requests", "bytes", "seconds", "concurrency", "path"}
// (MB = 2^20 bytes).
import { connect } from 'node:net';

const HOST = '127.0.0.1';
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? dflt : args[i + 1];
};
const port = Number(opt('port'));
const path = opt('path', '/');
const concurrency = Number(opt('concurrency', 8));
const duration = Number(opt('duration', 5));
const warmup = Number(opt('warmup', 1));
const expectBytes = opt('expect-bytes') === undefined ? undefined : Number(opt('expect-bytes'));
const check = args.includes('--check');
if (!Number.isInteger(port) || port < 1 || port > 65535 || !path.startsWith('/') || !(concurrency >= 1) || !(duration > 0) || !(warmup >= 0)) {
  process.stderr.write('usage: http-load.mjs --port P --path /FILE [--concurrency N] [--duration S] [--warmup S] [--expect-bytes N] [--check]\n');
  process.exit(2);
}
const request = Buffer.from(`GET ${path} HTTP/1.0\r\nHost: ${HOST}:${port}\r\nUser-Agent: berth-bench\r\n\r\n`);

/** One request on a new connection: resolves to the body length, or -1 for an error. */
function once() {
  return new Promise((resolve) => {
    const s = connect({ host: HOST, port });
    let head = Buffer.alloc(0);
    let headerDone = false;
    let status = 0;
    let length = -1;
    let body = 0;
    let failed = false;
    s.setNoDelay(true);
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
    s.on('connect', () => s.write(request));
    s.on('data', (b) => {
      if (headerDone) {
        body += b.length;
        return;
      }
      head = Buffer.concat([head, b]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 65536) s.destroy(new Error('header too long'));
        return;
      }
      headerDone = true;
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
      const cl = lines.find((l) => /^content-length:/i.test(l));
      if (cl) length = Number(cl.slice(cl.indexOf(':') + 1).trim());
      body = head.length - end - 4;
      head = Buffer.alloc(0);
    });
    s.on('error', () => { failed = true; });
    s.on('close', () => {
      const ok = !failed && headerDone && status === 200 && (length < 0 || body === length) && (expectBytes === undefined || body === expectBytes);
      resolve(ok ? body : -1);
    });
  });
}

if (check) {
  const n = await once();
  process.exit(n >= 0 ? 0 : 1);
}

const start = performance.now();
const t0 = start + warmup * 1000;
const t1 = t0 + duration * 1000;
let requests = 0;
let bytes = 0;
let errors = 0;
async function client() {
  while (performance.now() < t1) {
    const n = await once();
    const now = performance.now();
    if (now < t0 || now > t1) continue;
    if (n < 0) errors++;
    else { requests++; bytes += n; }
  }
}
await Promise.all(Array.from({ length: concurrency }, client));
const round = (v, d) => Number(v.toFixed(d));
process.stdout.write(JSON.stringify({
  requests_per_s: round(requests / duration, 1), mb_per_s: round(bytes / duration / 1048576, 2), errors,
  requests, bytes, seconds: duration, concurrency, path,
}) + '\n');
