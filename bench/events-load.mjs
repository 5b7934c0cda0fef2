// Event throughput for bench/stats-events.sh: a `docker events` subscriber (the real CLI) counts
// rename events while one client per container renames it back and forth through the API, as fast
// as the engine answers. Renames are cheap on every engine (no runtime call, no image store), so
// the events pipeline is what is measured: the engine's bookkeeping, publishing, and writing the
// stream to the subscriber, which decodes and prints every event.
//
//   node bench/events-load.mjs --sock /run/x.sock --containers s0,s1,... --events 2000 [--docker docker]
//
// Each container is renamed an even number of times (NAME -> NAME-r -> NAME ...), so it ends with
// the name it had. Prints one line of JSON:
//   {"events", "received", "publish_s", "deliver_s", "events_per_s", "lag_ms", "request_ms_p50", "request_ms_max"}
// publish_s: first request sent to last answer; deliver_s: first request to the subscriber having
// printed every event; lag_ms: last answer to last event printed.
import { request } from 'node:http';
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? dflt : args[i + 1];
};
const sock = opt('sock');
const containers = (opt('containers', '') || '').split(',').filter(Boolean);
const wanted = Number(opt('events', 2000));
const docker = opt('docker', 'docker');
if (!sock || !containers.length || !(wanted > 0)) {
  process.stderr.write('usage: events-load.mjs --sock SOCK --containers a,b,c --events N [--docker docker]\n');
  process.exit(2);
}
const perContainer = Math.max(2, 2 * Math.ceil(wanted / containers.length / 2));
const total = perContainer * containers.length;

function api(method, path) {
  return new Promise((resolve, reject) => {
    const r = request({ socketPath: sock, path: `/v1.41${path}`, method }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode < 300 ? resolve() : reject(new Error(`${method} ${path}: ${res.statusCode}`))));
    });
    r.on('error', reject);
    r.end();
  });
}

const sub = spawn(docker, ['events', '--filter', 'event=rename', '--format', '{{.Actor.Attributes.name}}'], {
  env: { ...process.env, DOCKER_HOST: `unix://${sock}` }, stdio: ['ignore', 'pipe', 'inherit'],
});
let received = 0;
let lastAt = 0;
let onLine = () => {};
let buf = '';
sub.stdout.on('data', (c) => {
  buf += c.toString();
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    buf = buf.slice(i + 1);
    received++;
    lastAt = performance.now();
    onLine();
  }
});
const until = (n, ms) => new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`got ${received} of ${n} events`)), ms);
  const check = () => { if (received >= n) { clearTimeout(t); resolve(); } };
  onLine = check;
  check();
});

try {
  // The subscriber is listening once a warm-up rename (there and back) reaches it; then one more
  // pair must reach it whole.
  const probe = containers[0];
  const pair = async () => {
    await api('POST', `/containers/${probe}/rename?name=${probe}-w`);
    await api('POST', `/containers/${probe}-w/rename?name=${probe}`);
  };
  for (let i = 0; i < 100 && received === 0; i++) {
    await pair();
    await new Promise((r) => setTimeout(r, 100));
  }
  if (received === 0) throw new Error('the subscriber never printed an event');
  const base = received;
  await pair();
  await until(base + 2, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  received = 0;
  const lat = [];
  const t0 = performance.now();
  await Promise.all(containers.map(async (name) => {
    for (let i = 0; i < perContainer; i++) {
      const [from, to] = i % 2 === 0 ? [name, `${name}-r`] : [`${name}-r`, name];
      const s = performance.now();
      await api('POST', `/containers/${from}/rename?name=${to}`);
      lat.push(performance.now() - s);
    }
  }));
  const published = performance.now();
  await until(total, 120_000);
  lat.sort((a, b) => a - b);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  process.stdout.write(JSON.stringify({
    events: total, received, publish_s: r3((published - t0) / 1000), deliver_s: r3((lastAt - t0) / 1000),
    events_per_s: Math.round(total / ((lastAt - t0) / 1000)), lag_ms: r3(lastAt - published),
    request_ms_p50: r3(lat[Math.floor(lat.length / 2)]), request_ms_max: r3(lat[lat.length - 1]),
  }) + '\n');
} finally {
  sub.kill('SIGTERM');
}
