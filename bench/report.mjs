// Turns bench/measure.sh's results.jsonl into Markdown: the run's facts, every timing (median, min,
// max), the side-by-side table with ratios against dockerd and podman and the goals, and the
// networking details (set-up cost per container, published-port throughput; berth and podman only).
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
const hasNet = rows.some((r) => r.id.startsWith('net_') || r.id.startsWith('http.'));
const failed = (id) => (by[id]?.error ? ` (FAILED: ${String(by[id].error).split('\n').pop().slice(0, 80)})` : '');

p(`# berth benchmark: ${meta.date ?? ''}`);
p();
p(`berth ${meta.berth_commit ?? '?'} (berthd ${meta.berthd ?? '?'}), docker CLI ${meta.docker_cli ?? '?'} -> dockerd ${meta.dockerd ?? '?'}` +
  ` (containerd ${meta.containerd ?? '?'}), podman ${meta.podman ?? '?'}, conmon ${meta.conmon ?? '?'}, crun ${meta.crun ?? '?'}, runc ${meta.runc ?? '?'};` +
  ` node ${meta.node ?? '?'}, kernel ${meta.kernel ?? '?'}, ${meta.cpus ?? '?'} CPUs, cgroups ${meta.cgroups ?? '?'}.` +
  ` Wall clock of the whole client command, ${meta.runs} runs after ${meta.warmup} warm-up (${String(meta.hyperfine).startsWith('hyperfine') ? meta.hyperfine + ' -N' : 'bash loop'});` +
  ` ps with ${meta.n_ps} running; memory with ${meta.n_mem} running.` +
  ` Load average (1/5/15 min) at the start ${meta.load_start ?? '?'}, at the end ${by.load_end?.loadavg ?? '?'}.` +
  (hasNet ? ` Networking: netavark ${meta.netavark ?? '?'}, aardvark-dns ${meta.aardvark_dns ?? '?'} for berthd and podman;` +
    ` published-port load ${meta.http_conc} concurrent HTTP/1.0 clients over 127.0.0.1, ${meta.http_seconds} s a run after 1 s of warm-up, ${meta.http_rounds} rounds.` +
    ' dockerd runs with `--bridge=none --iptables=false` in this bench (a bridged dockerd would rewrite the host\'s iptables), so it has no network rows.' : ''));
p();

// ---- side by side
const memOf = (id) => by[id]?.pss_kb;
const rssOf = (id) => by[id]?.rss_kb;
const perCt = (id) => (by[id] && meta.n_mem ? by[id].pss_kb / Number(meta.n_mem) : undefined);
// Network set-up cost per container: median with the network - median with --network none (both from section 5).
const cost = (net, who) => {
  const a = t(`net_${net}.${who}`), b = t(`net_none.${who}`);
  return a === undefined || b === undefined ? undefined : a - b;
};
const ms = (v) => (v === undefined ? '—' : `${v >= 0 ? '+' : ''}${(v * 1e3).toFixed(1)} ms`);
// Published-port throughput: the median over the rounds of one engine and file.
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b), n = v.length;
  return n ? (n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : undefined;
};
const httpRuns = (e, f) => rows.filter((r) => r.id.startsWith(`http.${e}.${f}.`) && r.requests_per_s !== undefined);
const http = (e, f, key) => median(httpRuns(e, f).map((r) => r[key]));
const rps = (v) => (v === undefined ? '—' : `${v.toFixed(0)} req/s`);
const mbps = (v) => (v === undefined ? '—' : `${v.toFixed(1)} MB/s`);
const NO_BRIDGE = 'no bridge here';
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
if (hasNet) {
  const le = (b, d, q) => b <= q, ge = (b, d, q) => b >= q;
  cmp.push(
    ['network set-up per container, default bridge, docker CLI (podman: own CLI, default network)', cost('bridge', 'docker_berthd'), undefined, cost('bridge', 'podman'), ms, 'berth ≤ podman', le, NO_BRIDGE],
    ['network set-up per container, default bridge, own CLI', cost('bridge', 'berth'), undefined, cost('bridge', 'podman'), ms, 'berth ≤ podman', le, NO_BRIDGE],
    ['network set-up per container, user network (cold), docker CLI (podman: own CLI)', cost('user', 'docker_berthd'), undefined, cost('user', 'podman'), ms, 'berth ≤ podman', le, NO_BRIDGE],
    ['network set-up per container, user network (cold), own CLI', cost('user', 'berth'), undefined, cost('user', 'podman'), ms, 'berth ≤ podman', le, NO_BRIDGE],
    ['network set-up per container, user network (up), docker CLI (podman: own CLI)', cost('up', 'docker_berthd'), undefined, cost('up', 'podman'), ms, 'berth ≤ podman', le, NO_BRIDGE],
    ['network set-up per container, user network (up), own CLI', cost('up', 'berth'), undefined, cost('up', 'podman'), ms, 'berth ≤ podman', le, NO_BRIDGE],
    ['published port, GET 1 KB (requests/s)', http('berth', '1k', 'requests_per_s'), undefined, http('podman', '1k', 'requests_per_s'), rps, 'berth ≥ podman', ge, NO_BRIDGE],
    ['published port, GET 1 MB (MB/s)', http('berth', '1m', 'mb_per_s'), undefined, http('podman', '1m', 'mb_per_s'), mbps, 'berth ≥ podman', ge, NO_BRIDGE],
  );
}
// Build (section 6): the goal is against BuildKit (dockerd's, through the Debian docker CLI 20.10),
// so its rows show BuildKit in the dockerd column; DESIGN.md's figures stand in when BuildKit was not
// reachable in this run. dockerd's legacy builder is in the build table below.
const hasBuild = rows.some((r) => r.id.startsWith('build_'));
const BK_DESIGN = { cold: 0.89, cached: 0.12 };
const bk = (kind) => t(`build_${kind}.buildkit`) ?? (by.build_buildkit_unreachable ? BK_DESIGN[kind] : undefined);
const bkNote = by.build_buildkit_unreachable ? ' (BuildKit not reachable here: DESIGN.md\'s figure)' : '';
if (hasBuild) {
  const faster = (b, d) => b < d;
  cmp.push(
    [`build, cold (\`--no-cache\`), \`berth build\` (dockerd: BuildKit${bkNote})`, t('build_cold.berth'), bk('cold'), t('build_cold.podman'), sec, 'berth < BuildKit', faster],
    [`build, cold (\`--no-cache\`), docker CLI -> berthd (dockerd: BuildKit${bkNote})`, t('build_cold.docker_berthd'), bk('cold'), t('build_cold.podman'), sec, 'berth < BuildKit', faster],
    [`build, fully cached rebuild, \`berth build\` (dockerd: BuildKit${bkNote})`, t('build_cached.berth'), bk('cached'), t('build_cached.podman'), sec, 'berth < BuildKit', faster],
    [`build, fully cached rebuild, docker CLI -> berthd (dockerd: BuildKit${bkNote})`, t('build_cached.docker_berthd'), bk('cached'), t('build_cached.podman'), sec, 'berth < BuildKit', faster],
  );
}
// Sections 7 and 8: the tables bench/logs-since.sh and bench/registry.sh printed (cells as text).
const num = (cell) => (cell === undefined ? undefined : Number.isFinite(parseFloat(cell)) ? parseFloat(cell) : undefined);
const tableRow = (id, re) => by[id]?.rows?.find((r) => re.test(r[0]));
const logsRow = (re) => tableRow('logs_since', re);
if (by.logs_since?.rows) {
  const mbOf = (by.logs_since.title ?? by.logs_since.header?.[0] ?? '').match(/(\d+) MB/)?.[1] ?? '?';
  for (const [re, what] of [[/^`--since`/, '`logs --since` (the last lines)'], [/^`--tail 10`/, '`logs --tail 10`'], [/^`--since` \+ `--tail 10`/, '`logs --since --tail 10`']]) {
    const r = logsRow(re);
    cmp.push([`${what} on a ${mbOf} MB log, docker CLI (berthd k8s-file / dockerd json-file)`, num(r?.[1]), num(r?.[2]), undefined, sec, '', null]);
  }
}
const regRow = (re) => num(tableRow('registry', re)?.[1]);
if (by.registry?.rows) {
  const fasterThanQ = (b, d, q) => b < q;
  const regMb = (by.registry.title ?? '').match(/(\d+) MB/)?.[1] ?? '?';
  cmp.push(
    [`push ${regMb} MB to a loopback registry (berth -> berth registry / dockerd -> distribution / skopeo -> distribution)`, regRow(/^berth push -> berth registry/), regRow(/^dockerd push -> docker-registry/), regRow(/^skopeo push .*-> docker-registry/), sec, 'berth < skopeo+distribution', fasterThanQ],
    [`pull ${regMb} MB from a loopback registry (same pairs)`, regRow(/^berth pull <- berth registry/), regRow(/^dockerd pull <- docker-registry/), regRow(/^skopeo pull docker-registry/), sec, 'berth < skopeo+distribution', fasterThanQ],
    ['skopeo push to berth registry (podman column: to distribution)', regRow(/^skopeo push .*-> berth registry/), undefined, regRow(/^skopeo push .*-> docker-registry/), sec, 'berth registry < distribution', fasterThanQ],
    ['skopeo pull from berth registry (podman column: from distribution)', regRow(/^skopeo pull berth registry/), undefined, regRow(/^skopeo pull docker-registry/), sec, 'berth registry < distribution', fasterThanQ],
  );
}
p('| work | berth | dockerd | podman | berth/dockerd | berth/podman | goal | met |');
p('|---|---:|---:|---:|---:|---:|---|---|');
for (const [work, b, d, q, f, goal, check, noD] of cmp) {
  const met = !check ? '' : b === undefined || (check.length > 2 && q === undefined) ? '**not measured**' : check(b, d, q) ? 'yes' : '**no**';
  p(`| ${work} | ${f(b)} | ${d === undefined && noD ? noD : f(d)} | ${q === undefined && work.startsWith('idle') ? 'no daemon' : f(q)} | ${ratio(b, d)} | ${ratio(b, q)} | ${goal} | ${met} |`);
}
p();
p(`Floor: raw \`crun run\` ${sec(t('run_rm.crun'))}, raw \`runc run\` ${sec(t('run_rm.runc'))} on a busybox bundle` +
  `; client start alone: \`node -e 0\` ${sec(t('cli.node'))}, \`berth --version\` ${sec(t('cli.berth'))}, \`docker --version\` ${sec(t('cli.docker'))}` +
  ` (berth run --rm is ${ratio(t('run_rm.berth'), t('run_rm.crun'))}x crun's, docker CLI -> berthd ${ratio(t('run_rm.docker_berthd'), t('run_rm.crun'))}x).`);
p();

// ---- every timing
p('| command | median | min | max | n |');
p('|---|---:|---:|---:|---:|');
for (const r of rows.filter((r) => (r.times || r.error) && !r.id.startsWith('http.') && r.id !== 'logs_since' && r.id !== 'registry')) {
  const s = stats(r);
  p(`| ${r.label}${failed(r.id)} | ${sec(s?.median)} | ${sec(s?.min)} | ${sec(s?.max)} | ${s?.n ?? 0}${r.failed_runs ? ` (+${r.failed_runs} failed: exit ${r.failed_exit_codes.join(', ')})` : ''} |`);
}
p();

// ---- memory and serial starts
p('| memory | processes | RSS | PSS |');
p('|---|---:|---:|---:|');
for (const r of rows.filter((r) => r.rss_kb !== undefined)) p(`| ${r.label} | ${r.pids} | ${mb(r.rss_kb)} | ${mb(r.pss_kb)} |`);
p();
// ---- networking details
if (hasNet) {
  p('Network set-up cost per container (section 5): median of `run --rm busybox true` on the network minus the median with' +
    ' `--network none`, both measured in that section. Cold: nothing else on the network, so each run brings up and tears down' +
    ' the bridge, its iptables rules and (user network) aardvark-dns; up: the httpd containers keep them up.');
  p();
  p('| client -> engine | `--network none` | default bridge | set-up | user network, cold | set-up | user network, up | set-up |');
  p('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [who, label] of [['docker_berthd', 'docker CLI -> berthd'], ['berth', 'berth CLI -> berthd'], ['podman', 'podman']]) {
    p(`| ${label} | ${sec(t(`net_none.${who}`))} | ${sec(t(`net_bridge.${who}`))}${failed(`net_bridge.${who}`)} | ${ms(cost('bridge', who))}` +
      ` | ${sec(t(`net_user.${who}`))}${failed(`net_user.${who}`)} | ${ms(cost('user', who))} | ${sec(t(`net_up.${who}`))}${failed(`net_up.${who}`)} | ${ms(cost('up', who))} |`);
  }
  p();
  p('Published-port throughput (section 5): busybox `httpd -f -p 80 -h /www` on the user network behind `-p 127.0.0.1:PORT:80`,' +
    ` ${meta.http_conc} clients, one connection per request (HTTP/1.0), ${meta.http_seconds} s a round; median (min-max) over the rounds.`);
  p();
  p('| engine | file | requests/s | MB/s | rounds | errors |');
  p('|---|---|---:|---:|---:|---:|');
  const range = (xs, f) => (xs.length ? `${f(median(xs))} (${f(Math.min(...xs))}-${f(Math.max(...xs))})` : '—');
  for (const f of ['1k', '1m']) {
    for (const e of ['berth', 'podman']) {
      const runs = httpRuns(e, f);
      const errs = runs.reduce((n, r) => n + r.errors, 0);
      const broken = rows.filter((r) => r.id.startsWith(`http.${e}.${f}.`) && r.error).length;
      p(`| ${e} | ${f === '1k' ? '1 KB' : '1 MB'} | ${range(runs.map((r) => r.requests_per_s), (v) => v.toFixed(0))} | ${range(runs.map((r) => r.mb_per_s), (v) => v.toFixed(1))}` +
        ` | ${runs.length}${broken ? ` (+${broken} FAILED)` : ''} | ${errs} |`);
    }
  }
  const rb = http('berth', '1k', 'requests_per_s'), rq = http('podman', '1k', 'requests_per_s');
  const mb1 = http('berth', '1m', 'mb_per_s'), mq1 = http('podman', '1m', 'mb_per_s');
  p();
  p(`berth/podman: 1 KB ${ratio(rb, rq)}x the requests/s, 1 MB ${ratio(mb1, mq1)}x the MB/s.`);
  p();
  if (by.net_left) p(`Left behind by the engines at the end of section 5 (removed by run.sh's clean-up): ${by.net_left.left}.`), p();
  const flaky = rows.filter((r) => r.failed_runs || r.probe_error);
  if (flaky.length) {
    p('Runs that failed and were left out of the times (section 5 keeps going; see docs/benchmarks.md): ' + flaky.map((r) =>
      `${r.label}: ${[r.failed_runs ? `${r.failed_runs} of ${r.failed_runs + (r.times?.length ?? 0)} timed runs (exit ${r.failed_exit_codes.join(', ')})` : '',
        r.probe_error ? `first try: ${JSON.stringify(r.probe_error.split('\n')[0].slice(0, 120))}` : ''].filter(Boolean).join('; ')}`).join('; ') + '.');
    p();
  }
}
// ---- build details
if (hasBuild) {
  p('Build (section 6): the Dockerfile of ../shared/peers/40-build.sh (busybox base; a RUN making 200 small files; a 50 MB' +
    ' `COPY` from the context; a second stage with two `COPY --from`), `-q --network none`. Cold: `--no-cache` on every engine' +
    ' (the base image present, no step reused; BuildKit\'s file sync still keeps unchanged context files between builds, as' +
    ' BuildKit does); cached: the same build again, every step from the cache.' +
    ` Load average (1/5/15 min) at the section's start ${by.load_build_start?.loadavg ?? '?'}, at its end ${by.load_build_end?.loadavg ?? '?'}.`);
  p();
  p('| client -> engine | cold | cached | cold / BuildKit | cached / BuildKit | cold / legacy | cached / legacy |');
  p('|---|---:|---:|---:|---:|---:|---:|');
  const bkc = t('build_cold.buildkit'), bkh = t('build_cached.buildkit'), lc = t('build_cold.docker_dockerd'), lh = t('build_cached.docker_dockerd');
  for (const [who, label] of [['docker_berthd', 'docker CLI -> berthd'], ['berth', '`berth build` -> berthd'], ['docker_dockerd', 'docker CLI -> dockerd, legacy builder'],
    ['buildkit', by['build_cold.buildkit']?.label?.replace(/, cold.*$/, '') ?? 'dockerd, BuildKit'], ['podman', 'podman build']]) {
    const c = t(`build_cold.${who}`), h = t(`build_cached.${who}`);
    p(`| ${label} | ${sec(c)}${failed(`build_cold.${who}`)} | ${sec(h)}${failed(`build_cached.${who}`)} | ${ratio(c, bkc)} | ${ratio(h, bkh)} | ${ratio(c, lc)} | ${ratio(h, lh)} |`);
  }
  if (by.build_buildkit_unreachable) p(), p(`BuildKit was not reachable in this run (${String(by.build_buildkit_unreachable.error).split('\n').pop().slice(0, 120)}); DESIGN.md measured it at 0.89 s cold and 0.12 s cached on this kind of machine.`);
  const bad = rows.filter((r) => r.id.startsWith('build_check.'));
  if (bad.length) p(), p(`Images that did not print the context's sha256: ${bad.map((r) => `${r.id.slice('build_check.'.length)} (${r.error})`).join('; ')}.`);
  p();
}
// ---- standalone scripts' own tables (sections 7 to 10); stats-events.sh prints two tables: the
// second one's title row shows as a row of the first.
const STANDALONE_SECTIONS = { logs_since: 7, registry: 8, stats_events: 9, health_cpu: 10 };
for (const r of rows.filter((x) => x.id in STANDALONE_SECTIONS)) {
  p(`Section ${STANDALONE_SECTIONS[r.id]}: \`${r.script}\` (${r.args || 'defaults'})${r.title ? `, ${r.title}` : ''}${r.error ? ` FAILED: ${String(r.error).split('\n').pop()}` : ''}.`);
  p();
  if (r.rows?.length) {
    const width = Math.max(r.header.length, ...r.rows.map((x) => x.length));
    const head = r.header.length === width ? r.header : r.id === 'logs_since' ? [r.header[0], ...r.header.slice(1).join(' ').split(/\s+/)] : r.header;
    p(`| ${head.join(' | ')} |`);
    p(`|${'---|'.repeat(head.length)}`);
    for (const x of r.rows) p(`| ${x.join(' | ')} |`);
    p();
  }
}
const starts = rows.filter((r) => r.id.startsWith('start_serial.'));
if (starts.length) {
  p('Serial `run -d` of N containers (set-up, not a goal): ' +
    starts.map((r) => `${r.engine} ${r.n} in ${Number(r.seconds).toFixed(1)} s (${r.running} running)`).join('; ') + '.');
}
process.stdout.write(out.join('\n') + '\n');
