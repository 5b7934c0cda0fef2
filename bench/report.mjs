// Turns bench/measure.sh's results.jsonl into Markdown: the run's facts, every timing (median, min,
// max), and the side-by-side table with ratios against dockerd and podman and the goals.
// Usage: node bench/report.mjs results.jsonl > results.md
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const by = Object.fromEntries(rows.map((r) => [r.id, r]));
const meta = by.meta?.meta ?? {};
const out = [];
const p = (s = '') => out.push(s);

const stats = (r) => {
  if (!r?.times?.length) return undefined;
  const t = [...r.times].sort((a, b) => a - b), n = t.length;
  return { median: n % 2 ? t[(n - 1) / 2] : (t[n / 2 - 1] + t[n / 2]) / 2, min: t[0], max: t[n - 1], n };
};
const sec = (v) => (v === undefined ? '—' : `${v.toFixed(3)} s`);
const mb = (kb) => (kb === undefined ? '—' : `${(kb / 1024).toFixed(1)} MB`);
const ratio = (a, b) => (a === undefined || b === undefined || !b ? '—' : `${(a / b).toFixed(2)}`);
const t = (id) => stats(by[id])?.median;
const failed = (id) => (by[id]?.error ? ` (FAILED: ${String(by[id].error).split('\n').pop().slice(0, 80)})` : '');

p(`# berth benchmark: ${meta.date ?? ''}`);
p();
p(`berth ${meta.berth_commit ?? '?'} (berthd ${meta.berthd ?? '?'}), docker CLI ${meta.docker_cli ?? '?'} -> dockerd ${meta.dockerd ?? '?'}` +
  ` (containerd ${meta.containerd ?? '?'}), podman ${meta.podman ?? '?'}, conmon ${meta.conmon ?? '?'}, crun ${meta.crun ?? '?'}, runc ${meta.runc ?? '?'};` +
  ` node ${meta.node ?? '?'}, kernel ${meta.kernel ?? '?'}, ${meta.cpus ?? '?'} CPUs, cgroups ${meta.cgroups ?? '?'}.` +
  ` Wall clock of the whole client command, ${meta.runs} runs after ${meta.warmup} warm-up (${String(meta.hyperfine).startsWith('hyperfine') ? meta.hyperfine + ' -N' : 'bash loop'});` +
  ` ps with ${meta.n_ps} running; memory with ${meta.n_mem} running.` +
  ` Load average (1/5/15 min) at the start ${meta.load_start ?? '?'}, at the end ${by.load_end?.loadavg ?? '?'}.`);
p();

// ---- side by side
const memOf = (id) => by[id]?.pss_kb;
const rssOf = (id) => by[id]?.rss_kb;
const perCt = (id) => (by[id] && meta.n_mem ? by[id].pss_kb / Number(meta.n_mem) : undefined);
const cmp = [
  // [work, berth, dockerd, podman, fmt, goal text, goal check(berth, dockerd, podman)]
  ['`run --rm busybox true`, docker CLI', t('run_rm.docker_berthd'), t('run_rm.docker_dockerd'), undefined, sec,
    'berthd ≤ 1/4 of dockerd', (b, d) => b <= d / 4],
  ['`run --rm busybox true`, own CLI (berth / docker / podman)', t('run_rm.berth'), t('run_rm.docker_dockerd'), t('run_rm.podman'), sec,
    'berth < podman', (b, d, q) => b < q],
  ['`run -d` + `rm -f`, docker CLI', t('cycle.docker_berthd'), t('cycle.docker_dockerd'), t('cycle.podman'), sec, '', null],
  ['`run -d` + `rm -f`, own CLI', t('cycle.berth'), t('cycle.docker_dockerd'), t('cycle.podman'), sec,
    'berth < podman', (b, d, q) => b < q],
  ['`ps`, 0 running, docker CLI (podman: own CLI)', t('ps0.docker_berthd'), t('ps0.docker_dockerd'), t('ps0.podman'), sec, '', null],
  ['`ps`, 0 running, own CLI', t('ps0.berth'), t('ps0.docker_dockerd'), t('ps0.podman'), sec, '', null],
  [`\`ps\`, ${meta.n_ps} running, docker CLI (podman: own CLI)`, t('psN.docker_berthd'), t('psN.docker_dockerd'), t('psN.podman'), sec,
    'berthd ≤ dockerd', (b, d) => b <= d],
  [`\`ps\`, ${meta.n_ps} running, own CLI`, t('psN.berth'), t('psN.docker_dockerd'), t('psN.podman'), sec, '', null],
  ['idle daemon RSS, fresh (berthd / dockerd+containerd)', rssOf('idle_fresh.berthd'), rssOf('idle_fresh.dockerd'), undefined, mb,
    'berthd ≤ 1/2 of dockerd+containerd', (b, d) => b <= d / 2],
  ['idle daemon RSS, after the workload', rssOf('idle_after.berthd'), rssOf('idle_after.dockerd'), undefined, mb,
    'berthd ≤ 1/2 of dockerd+containerd', (b, d) => b <= d / 2],
  [`daemon RSS with ${meta.n_mem} running`, rssOf('mem.berthd'), rssOf('mem.dockerd'), undefined, mb, '', null],
  ['per running container: monitor PSS (conmon / containerd-shim / conmon)', perCt('mem.berth_conmon'), perCt('mem.docker_shim'), perCt('mem.podman_conmon'), mb,
    'berth ≤ podman', (b, d, q) => b <= q],
];
p('| work | berth | dockerd | podman | berth/dockerd | berth/podman | goal | met |');
p('|---|---:|---:|---:|---:|---:|---|---|');
for (const [work, b, d, q, f, goal, check] of cmp) {
  const met = !check ? '' : b === undefined ? '**not measured**' : check(b, d, q) ? 'yes' : '**no**';
  p(`| ${work} | ${f(b)} | ${f(d)} | ${q === undefined && work.startsWith('idle') ? 'no daemon' : f(q)} | ${ratio(b, d)} | ${ratio(b, q)} | ${goal} | ${met} |`);
}
p();
p(`Floor: raw \`crun run\` ${sec(t('run_rm.crun'))}, raw \`runc run\` ${sec(t('run_rm.runc'))} on a busybox bundle` +
  `; client start alone: \`node -e 0\` ${sec(t('cli.node'))}, \`berth --version\` ${sec(t('cli.berth'))}, \`docker --version\` ${sec(t('cli.docker'))}` +
  ` (berth run --rm is ${ratio(t('run_rm.berth'), t('run_rm.crun'))}x crun's, docker CLI -> berthd ${ratio(t('run_rm.docker_berthd'), t('run_rm.crun'))}x).`);
p();

// ---- every timing
p('| command | median | min | max | n |');
p('|---|---:|---:|---:|---:|');
for (const r of rows.filter((r) => r.times || r.error)) {
  const s = stats(r);
  p(`| ${r.label}${failed(r.id)} | ${sec(s?.median)} | ${sec(s?.min)} | ${sec(s?.max)} | ${s?.n ?? 0} |`);
}
p();

// ---- memory and serial starts
p('| memory | processes | RSS | PSS |');
p('|---|---:|---:|---:|');
for (const r of rows.filter((r) => r.rss_kb !== undefined)) p(`| ${r.label} | ${r.pids} | ${mb(r.rss_kb)} | ${mb(r.pss_kb)} |`);
p();
const starts = rows.filter((r) => r.id.startsWith('start_serial.'));
if (starts.length) {
  p('Serial `run -d` of N containers (set-up, not a goal): ' +
    starts.map((r) => `${r.engine} ${r.n} in ${Number(r.seconds).toFixed(1)} s (${r.running} running)`).join('; ') + '.');
}
process.stdout.write(out.join('\n') + '\n');
