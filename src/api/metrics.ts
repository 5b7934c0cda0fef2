import { createServer, Server } from 'node:http';
import type { Engine } from '../daemon/engine';
import type { ImageStore } from '../image/image-store';
import { CONTENT_TYPE, Counter, formatExposition, Histogram, MetricFamily, Sample } from '../base/prometheus';
import type { OperationObserver, RequestObserver } from './server';

/** Pulls and builds take seconds to many minutes. */
const LONG_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * berthd's Prometheus metrics (docs/metrics.md). Request counters are kept as requests finish;
 * everything else — container states, image count, per-container cgroup counters — is read at
 * scrape time, so an idle engine does no work for metrics.
 */
export class EngineMetrics {
  private readonly requests = new Counter('berth_engine_api_requests_total', 'Docker API requests by method, route pattern and status code.', ['method', 'route', 'code']);
  private readonly latency = new Histogram('berth_engine_api_request_duration_seconds', 'Docker API request durations by method and route pattern.', ['method', 'route']);

  private readonly pulls = new Counter('berth_engine_image_pulls_total', 'Image pull requests by result (success, failure, canceled).', ['result']);
  private readonly pullDuration = new Histogram('berth_engine_image_pull_duration_seconds', 'Image pull durations by result.', ['result'], LONG_BUCKETS);
  private readonly builds = new Counter('berth_engine_builds_total', 'Image builds by result (success, failure, canceled).', ['result']);
  private readonly buildDuration = new Histogram('berth_engine_build_duration_seconds', 'Image build durations by result.', ['result'], LONG_BUCKETS);

  constructor(private readonly d: { engine: Engine; images: ImageStore }) {}

  readonly observePull: OperationObserver = (result, seconds) => {
    this.pulls.inc([result]);
    this.pullDuration.observe([result], seconds);
  };

  readonly observeBuild: OperationObserver = (result, seconds) => {
    this.builds.inc([result]);
    this.buildDuration.observe([result], seconds);
  };

  readonly observe: RequestObserver = (method, route, status, seconds) => {
    this.requests.inc([method, route, String(status)]);
    this.latency.observe([method, route], seconds);
  };

  async collect(): Promise<MetricFamily[]> {
    const { engine, images } = this.d;
    const containers = engine.containers.list();
    const byState = new Map<string, number>(['created', 'running', 'paused', 'restarting', 'exited', 'dead'].map((s) => [s, 0]));
    for (const c of containers) byState.set(c.state.status, (byState.get(c.state.status) ?? 0) + 1);

    const fam = (name: string, help: string, type: MetricFamily['type']): MetricFamily => ({ name, help, type, samples: [] });
    const cpu = fam('berth_container_cpu_usage_seconds_total', 'CPU time used by the container (cgroup cpu usage).', 'counter');
    const cpuUser = fam('berth_container_cpu_user_seconds_total', 'User CPU time used by the container.', 'counter');
    const cpuSystem = fam('berth_container_cpu_system_seconds_total', 'System CPU time used by the container.', 'counter');
    const memUsage = fam('berth_container_memory_usage_bytes', 'Memory usage of the container cgroup.', 'gauge');
    const memLimit = fam('berth_container_memory_limit_bytes', 'Memory limit of the container (host memory when unlimited).', 'gauge');
    const pids = fam('berth_container_pids', 'Processes and threads in the container.', 'gauge');
    const rx = fam('berth_container_network_receive_bytes_total', 'Bytes received by the container, by interface.', 'counter');
    const tx = fam('berth_container_network_transmit_bytes_total', 'Bytes sent by the container, by interface.', 'counter');
    const blkRead = fam('berth_container_blkio_read_bytes_total', 'Bytes read from block devices by the container.', 'counter');
    const blkWrite = fam('berth_container_blkio_write_bytes_total', 'Bytes written to block devices by the container.', 'counter');
    const restarts = fam('berth_container_restarts_total', 'Restarts by the restart policy (RestartCount).', 'counter');
    const healthy = fam('berth_container_health_status', 'Health check status: 1 when healthy, 0 otherwise (containers with a health check).', 'gauge');

    await Promise.all(containers.map(async (c) => {
      const labels = { id: c.id, name: c.name, image: c.imageRef };
      restarts.samples.push({ labels, value: c.state.restartCount });
      if (c.state.health) healthy.samples.push({ labels: { ...labels, status: c.state.health.status }, value: c.state.health.status === 'healthy' ? 1 : 0 });
      if (c.state.status !== 'running' && c.state.status !== 'paused') return;
      // A container may stop between list and read: it simply has no series in this scrape.
      const s = await engine.statsSample(c.id).catch(() => undefined);
      const g = s?.cgroup;
      if (g) {
        cpu.samples.push({ labels, value: g.cpuTotal / 1e9 });
        cpuUser.samples.push({ labels, value: g.cpuUser / 1e9 });
        cpuSystem.samples.push({ labels, value: g.cpuSystem / 1e9 });
        memUsage.samples.push({ labels, value: g.memoryUsage });
        memLimit.samples.push({ labels, value: g.memoryLimit ?? s.memoryTotal });
        if (g.pidsCurrent !== undefined) pids.samples.push({ labels, value: g.pidsCurrent });
        const sum = (op: string) => g.blkio.serviceBytes.filter((e) => e.op.toLowerCase() === op).reduce((a, e) => a + e.value, 0);
        blkRead.samples.push({ labels, value: sum('read') });
        blkWrite.samples.push({ labels, value: sum('write') });
      }
      for (const [iface, n] of Object.entries(s?.net ?? {})) {
        if (iface === 'lo') continue;
        rx.samples.push({ labels: { ...labels, interface: iface }, value: n.rxBytes });
        tx.samples.push({ labels: { ...labels, interface: iface }, value: n.txBytes });
      }
    }));

    const stateSamples: Sample[] = [...byState].map(([state, value]) => ({ labels: { state }, value }));
    return [
      this.requests.collect(), this.latency.collect(),
      this.pulls.collect(), this.pullDuration.collect(), this.builds.collect(), this.buildDuration.collect(),
      { name: 'berth_engine_containers', help: 'Containers by state.', type: 'gauge', samples: stateSamples },
      { name: 'berth_engine_images', help: 'Images in the image store.', type: 'gauge', samples: [{ value: images.list().length }] },
      { name: 'berth_engine_events_total', help: 'Events published since berthd started.', type: 'counter', samples: [{ value: engine.events.count }] },
      cpu, cpuUser, cpuSystem, memUsage, memLimit, pids, rx, tx, blkRead, blkWrite, restarts, healthy,
    ];
  }
}

/** The metrics listener: GET /metrics only, apart from the API (dockerd's --metrics-addr). */
export function createMetricsServer(metrics: EngineMetrics, log: (level: 'error', msg: string) => void): Server {
  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://berth').pathname;
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 page not found\n');
      return;
    }
    metrics.collect().then((families) => {
      const text = formatExposition(families);
      res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    }, (e: unknown) => {
      log('error', `metrics: ${e instanceof Error ? e.message : String(e)}`);
      res.writeHead(500);
      res.end();
    });
  });
}
