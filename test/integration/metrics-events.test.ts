import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get, request } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, busyboxTar, startDaemon } from './harness';
import { startRegistry } from './registry-helpers';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function fetchText(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString() }));
    }).on('error', reject);
  });
}

/** The value of the first sample of `name` whose labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

// Observability across a daemon's life: /metrics on --metrics-addr, system prune through the
// docker CLI, and events that outlive a berthd restart.
describe('metrics, system prune and persistent events', () => {
  let d: Daemon;
  let metricsUrl: string;
  before(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    d = await startDaemon({ args: ['--metrics-addr', `127.0.0.1:${port}`] });
  });
  after(async () => { await d?.stop(); });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };

  test('/metrics lists request counters and a running container\'s CPU and memory', async () => {
    const id = ok(['run', '-d', '--name', 'metered', '--memory', '64m', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 60']).trim();
    ok(['ps']);
    const m = await fetchText(metricsUrl);
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    assert.match(m.body, /# TYPE berth_container_cpu_usage_seconds_total counter/);
    assert.ok((sample(m.body, 'berth_container_cpu_usage_seconds_total', { name: 'metered', id }) ?? -1) > 0, m.body);
    assert.ok((sample(m.body, 'berth_container_memory_usage_bytes', { name: 'metered' }) ?? 0) > 0);
    assert.equal(sample(m.body, 'berth_container_memory_limit_bytes', { name: 'metered' }), 64 * 1024 * 1024);
    assert.ok((sample(m.body, 'berth_container_pids', { name: 'metered' }) ?? 0) >= 1);
    assert.equal(sample(m.body, 'berth_container_restarts_total', { name: 'metered' }), 0);
    assert.ok((sample(m.body, 'berth_engine_api_requests_total', { method: 'GET', route: '/containers/json', code: '200' }) ?? 0) >= 1);
    assert.ok((sample(m.body, 'berth_engine_api_request_duration_seconds_count', { method: 'POST', route: '/containers/create' }) ?? 0) >= 1);
    assert.equal(sample(m.body, 'berth_engine_containers', { state: 'running' }), 1);
    assert.ok((sample(m.body, 'berth_engine_events_total') ?? 0) >= 2);
    assert.equal((await fetchText(metricsUrl.replace('/metrics', '/other'))).status, 404);
    // Every series the Grafana dashboard queries is exposed.
    const dashboard = readFileSync(join(__dirname, '..', '..', 'docs', 'grafana-dashboard.json'), 'utf8');
    for (const name of new Set(dashboard.match(/berth_[a-z_]+/g) ?? [])) {
      assert.match(m.body, new RegExp(`^# TYPE ${name.replace(/_bucket$/, '')} `, 'm'), `dashboard reads ${name}`);
    }
    ok(['rm', '-f', 'metered']);
  });

  test('image pulls and builds are counted by result, with their durations', async () => {
    const tmp = mkdtempSync('/tmp/berth-test-metrics-');
    const reg = await startRegistry(join(tmp, 'registry'));
    try {
      const ref = `${reg.addr}/metrics/bb:1`;
      ok(['tag', 'busybox', ref]);
      ok(['push', ref]);
      ok(['rmi', ref]);
      ok(['pull', ref]);
      // Nothing listens on port 1: the pull fails before its first progress message.
      assert.notEqual(d.docker(['pull', '127.0.0.1:1/nothing/here:1']).status, 0);
      const ctx = join(tmp, 'ctx');
      mkdirSync(ctx);
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\n');
      ok(['build', '-q', '-t', 'metrics-built', ctx]);
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN exit 3\n');
      assert.notEqual(d.docker(['build', ctx]).status, 0);
      // A client that hangs up mid-build cancels it.
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo started; sleep 30\n');
      const tar = execFileSync('tar', ['-C', ctx, '-cf', '-', '.']);
      await new Promise<void>((resolve, reject) => {
        const r = request({ socketPath: d.sock, path: '/build', method: 'POST', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': tar.length } }, (res) => {
          res.on('data', (c: Buffer) => { if (c.toString().includes('started')) { r.destroy(); resolve(); } });
          res.on('end', () => reject(new Error('the build ended before it was canceled')));
        });
        r.on('error', () => { /* destroyed by us */ });
        r.end(tar);
      });
      let m = '';
      for (let i = 0; i < 100 && sample(m, 'berth_engine_builds_total', { result: 'canceled' }) === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        m = (await fetchText(metricsUrl)).body;
      }
      assert.match(m, /# TYPE berth_engine_image_pulls_total counter/);
      assert.equal(sample(m, 'berth_engine_image_pulls_total', { result: 'success' }), 1);
      assert.equal(sample(m, 'berth_engine_image_pulls_total', { result: 'failure' }), 1);
      assert.equal(sample(m, 'berth_engine_image_pull_duration_seconds_count', { result: 'success' }), 1);
      assert.ok((sample(m, 'berth_engine_image_pull_duration_seconds_sum', { result: 'success' }) ?? 0) > 0);
      assert.equal(sample(m, 'berth_engine_image_pull_duration_seconds_bucket', { result: 'success', le: '+Inf' }), 1);
      assert.equal(sample(m, 'berth_engine_builds_total', { result: 'success' }), 1);
      // The failed RUN is reported inside a 200 stream, and still counts as a failure.
      assert.equal(sample(m, 'berth_engine_builds_total', { result: 'failure' }), 1);
      assert.equal(sample(m, 'berth_engine_build_duration_seconds_count', { result: 'failure' }), 1);
      assert.equal(sample(m, 'berth_engine_builds_total', { result: 'canceled' }), 1);
      ok(['rmi', 'metrics-built']);
    } finally {
      await reg.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('events --since reach across a berthd restart; --until ends the stream; filters apply', async () => {
    ok(['run', '--name', 'before-restart', 'busybox', 'true']);
    ok(['volume', 'create', 'evvol']);
    await d.kill();
    await d.restart();
    const all = ok(['events', '--since', '1m', '--until', '0s', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    assert.match(all, /container create before-restart/);
    assert.match(all, /container die before-restart/);
    assert.match(all, /daemon start/);
    const dies = ok(['events', '--since', '1m', '--until', '0s', '--filter', 'container=before-restart', '--filter', 'event=die', '--format', '{{.Action}}']);
    assert.deepEqual(dies.trim().split('\n'), ['die']);
    const vols = ok(['events', '--since', '1m', '--until', '0s', '--filter', 'type=volume', '--format', '{{.Actor.ID}} {{.Action}}']);
    assert.match(vols, /evvol create/);
    assert.doesNotMatch(vols, /before-restart/);
    ok(['rm', 'before-restart']);
  });

  test('system prune -f removes stopped containers and dangling images; -a --volumes more', async () => {
    ok(['run', '--name', 'stopped1', 'busybox', 'true']);
    ok(['run', '-d', '--name', 'keeper', 'busybox', 'sleep', '60']);
    // Importing a tag twice leaves the first image dangling.
    ok(['import', '-c', 'CMD ["true"]', busyboxTar(), 'dangle:latest']);
    const danglingId = ok(['images', '-q', '--no-trunc', 'dangle:latest']).trim();
    ok(['import', '-c', 'CMD ["false"]', busyboxTar(), 'dangle:latest']);
    ok(['volume', 'create', 'prunevol']);
    ok(['run', '--name', 'anon', '-v', '/data', 'busybox', 'true']);
    const anonVol = ok(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', 'anon']).trim();
    const out = ok(['system', 'prune', '-f']);
    assert.match(out, /Total reclaimed space/);
    assert.equal(d.docker(['inspect', 'stopped1']).status, 1);
    assert.equal(ok(['inspect', '-f', '{{.State.Running}}', 'keeper']).trim(), 'true');
    assert.notEqual(d.docker(['image', 'inspect', danglingId]).status, 0, 'dangling image survived');
    assert.equal(d.docker(['image', 'inspect', 'dangle:latest']).status, 0);
    assert.equal(d.docker(['volume', 'inspect', 'prunevol']).status, 0);
    assert.equal(d.docker(['volume', 'inspect', anonVol]).status, 0, 'volumes pruned without --volumes');

    ok(['rm', '-f', 'keeper']);
    ok(['system', 'prune', '-a', '--volumes', '-f']);
    // The endpoints docker system prune called, as the request counters saw them: all answered 200.
    const m = (await fetchText(metricsUrl)).body;
    for (const route of ['/containers/prune', '/images/prune', '/volumes/prune', '/networks/prune', '/build/prune']) {
      assert.ok((sample(m, 'berth_engine_api_requests_total', { method: 'POST', route, code: '200' }) ?? 0) >= 1, `${route} not called or failed`);
    }
    assert.equal(sample(m, 'berth_engine_api_requests_total', { method: 'POST', route: 'unmatched' }), undefined, 'a prune endpoint is missing');
    assert.notEqual(d.docker(['image', 'inspect', 'dangle:latest']).status, 0);
    assert.notEqual(d.docker(['image', 'inspect', 'busybox:latest']).status, 0);
    // As Docker since API 1.42: --volumes prunes anonymous volumes; named ones need `volume prune -a`.
    assert.notEqual(d.docker(['volume', 'inspect', anonVol]).status, 0, 'anonymous volume survived');
    assert.equal(d.docker(['volume', 'inspect', 'prunevol']).status, 0);
    ok(['volume', 'rm', 'prunevol']);
  });
});
