import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { BERTH, Daemon, startDaemon } from './harness';

// `berth stats`, `events`, `update`, `system df`, `system prune` and `builder prune` against berthd,
// compared with the real docker CLI on the same daemon: byte for byte where the output does not
// depend on the moment it is taken (events between two fixed times, df and prune of the same
// state, update), by structure for stats (its numbers move between two runs).
describe('berth stats, events, update, system df and prune against berthd, like docker', () => {
  let d: Daemon;
  before(async () => { d = await startDaemon(); });
  after(async () => { await d?.stop(); });

  const ok = (cli: 'berth' | 'docker', args: string[], input?: string) => {
    const r = cli === 'berth' ? d.berth(args, { input }) : d.docker(args, { input });
    assert.equal(r.status, 0, `${cli} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  // docker 28 without buildx prints a deprecation banner for `builder` commands; berth has no legacy builder to deprecate.
  const banner = /^DEPRECATED: The legacy builder is deprecated[^\n]*\n(?: {12}[^\n]*\n)*\n/;
  const norm = (s: string) => s.replace(banner, '').replace(/\bdocker\b(?!\.com)/g, 'berth');
  /** Both CLIs, the same arguments and state: the same status, stdout and stderr (the program name aside). */
  const same = (args: string[], opts: { input?: string; normalize?: (s: string) => string } = {}) => {
    const b = d.berth(args, { input: opts.input }), k = d.docker(args, { input: opts.input });
    const what = `berth ${args.join(' ')}`;
    const n = opts.normalize ?? ((s: string) => s);
    assert.equal(b.status, k.status, `${what}: status ${b.status} (docker ${k.status}): ${b.stderr}`);
    assert.equal(n(b.stdout), n(args.includes('--help') ? norm(k.stdout) : k.stdout), `${what}: stdout`);
    assert.equal(n(b.stderr), n(norm(k.stderr)), `${what}: stderr`);
    return b;
  };
  /** Humanized durations ("3 seconds ago", "Up 7 seconds") move while the two CLIs run: compared as a placeholder, columns unaligned. */
  const ages = (s: string) => s.replace(/(Less than a second|About a minute|About an hour|\d+ (second|minute|hour)s?)/g, '<t>').replace(/ {2,}/g, '  ');
  /** What an earlier test left when it failed half-way: containers, volumes, networks, images but busybox. */
  const reset = () => {
    const ids = ok('docker', ['ps', '-aq']).split('\n').filter(Boolean);
    if (ids.length) ok('docker', ['rm', '-f', ...ids]);
    ok('docker', ['volume', 'prune', '-af']);
    ok('docker', ['network', 'prune', '-f']);
    const images = ok('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter((i) => i && i !== 'busybox:latest');
    for (const i of images) d.docker(['rmi', '-f', i]);
  };

  test('update: flags, names printed, warnings, errors and exit codes as docker', () => {
    reset();
    ok('docker', ['run', '-d', '--name', 'u1', 'busybox', 'sleep', '1000']);
    ok('docker', ['create', '--name', 'u2', 'busybox', 'true']);
    for (const args of [
      ['update', '-m', '64m', 'u1'], ['container', 'update', '--memory', '96m', '--memory-swap', '-1', 'u1', 'u2'],
      ['update', '--cpus', '0.5', '--cpu-shares', '512', 'u1'], ['update', '--pids-limit', '50', '--memory-reservation', '32m', 'u1'],
      ['update', '--blkio-weight', '500', 'u1'], ['update', '--cpuset-cpus', '0', '--cpuset-mems', '0', 'u1'],
      ['update', '--restart', 'always', 'u1'], ['update', '--restart', 'on-failure:3', 'u2'], ['update', '--kernel-memory', '10m', 'u1'],
      // Errors: the daemon's (exit 1, the others still updated), the client's checks, flag values (125).
      ['update', '-m', '80m', 'u1', 'nope', 'u2'], ['update', '--memory', '8k', 'u1'], ['update', 'u1'], ['update'],
      ['update', '--restart', 'bogus', 'u1'], ['update', '--restart', ':3', 'u1'], ['update', '--restart', 'on-failure:x', 'u1'],
      ['update', '--cpus', '1.x', 'u1'], ['update', '--cpus', '0.0000000001', 'u1'], ['update', '--blkio-weight', '70000', 'u1'],
      ['update', '--blkio-weight', 'x', 'u1'], ['update', '-m', 'bogus', 'u1'], ['update', '-m', '1x', 'u1'], ['update', '--bogus', 'u1'],
      ['update', '--help'], ['container', 'update', '--help'],
    ]) same(args);
    // What the last successful updates left.
    assert.equal(ok('docker', ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}', 'u1']),
      `${80 * 1024 * 1024} -1 500000000 512 always\n`);
    assert.equal(ok('docker', ['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.Memory}}', 'u2']), `on-failure:3 ${80 * 1024 * 1024}\n`);
    ok('docker', ['rm', '-f', 'u1', 'u2']);
  });

  test('events between two times: default lines, json, templates, filters, errors', async () => {
    reset();
    const since = Math.floor(Date.now() / 1000);
    ok('docker', ['create', '--name', 'e1', '--label', 'tier=<web&x>', 'busybox', 'true']);
    ok('docker', ['rename', 'e1', 'e2']);
    ok('docker', ['volume', 'create', 'ev1']);
    ok('docker', ['network', 'create', 'en1']);
    ok('docker', ['rm', 'e2']);
    ok('docker', ['volume', 'rm', 'ev1']);
    ok('docker', ['network', 'rm', 'en1']);
    // The next whole second: everything above is before it, so both CLIs get the same list.
    const until = Math.floor(Date.now() / 1000) + 1;
    await new Promise((r) => setTimeout(r, until * 1000 - Date.now() + 50));
    const range = ['--since', String(since), '--until', String(until)];
    const lines = same(['events', ...range]).stdout.split('\n').filter(Boolean);
    assert.ok(lines.length >= 7, lines.join('\n'));
    assert.match(lines.find((l) => l.includes(' rename '))!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container rename [0-9a-f]{64} \(.*name=e2, oldName=\/e1.*\)$/);
    same(['system', 'events', ...range, '--format', 'json']);
    same(['events', ...range, '--format', '{{json .}}']);
    same(['events', ...range, '--format', '{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes}} {{.Status}} {{.ID}} {{.From}} {{.Scope}} {{.Time}} {{.TimeNano}}']);
    same(['events', ...range, '--format', '{{json .Actor.Attributes}} {{index .Actor.Attributes "name"}}']);
    same(['events', ...range, '-f', 'type=volume']);
    same(['events', ...range, '--filter', 'event=rename', '--filter', 'container=e2']);
    same(['events', ...range, '-f', 'type=network', '--format', '{{.Action}}']);
    // Times are printed in the local zone, as docker prints them.
    for (const TZ of ['Asia/Kolkata', 'America/New_York']) {
      const run = (file: string) => spawnSync(file, ['events', ...range], { env: { ...d.env, TZ }, encoding: 'utf8' });
      const b = run(BERTH), k = run('docker');
      assert.equal(b.stdout, k.stdout, `TZ=${TZ}`);
      assert.match(b.stdout, TZ === 'Asia/Kolkata' ? /\+05:30 container/ : /-0[45]:00 container/);
    }
    same(['events', '--format', '{{.Nope}}']);
    same(['events', '--format', '{{.Nope']);
    same(['events', '--since', 'bogus', '--until', '1']);
    same(['events', '-f', 'bad', '--until', '1']);
    same(['events', 'extra']);
    same(['events', '--help']);
  });

  test('system df: summary, formats, verbose tables', () => {
    reset();
    ok('docker', ['volume', 'create', 'dfv']);
    ok('docker', ['run', '--name', 'dfc', '-v', 'dfv:/d', 'busybox', 'sh', '-c', 'echo hi > /d/x; head -c 5000 /dev/zero > /f']);
    ok('docker', ['run', '-d', '--name', 'dfr', 'busybox', 'sleep', '1000']);
    ok('docker', ['tag', 'busybox', 'dfimage:v1']);
    same(['system', 'df']);
    same(['system', 'df', '--format', 'json']);
    same(['system', 'df', '--format', '{{.Type}}: {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}']);
    same(['system', 'df', '--format', 'table {{.Type}}\t{{.Reclaimable}}']);
    same(['system', 'df', '--format', 'raw']);
    same(['system', 'df', '-v'], { normalize: ages });
    same(['system', 'df', '-v', '--format', 'json'], { normalize: ages });
    same(['system', 'df', '-v', '--format', '{{range .Images}}{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.Containers}}\n{{end}}{{range .Volumes}}{{.Name}} {{.Links}} {{.Size}}\n{{end}}']);
    same(['system', 'df', '-v', '--format', '{{range .Containers}}{{.Names}} {{.LocalVolumes}} {{.Size}} {{.State}}\n{{end}}{{len .BuildCache}}']);
    same(['system', 'df', '--format', '{{.Nope}}']);
    same(['system', 'df', '-v', '--format', '{{.Nope}}']);
    same(['system', 'df', 'extra']);
    same(['system', 'df', '--help']);
    ok('docker', ['rm', '-f', 'dfc', 'dfr']);
    ok('docker', ['volume', 'rm', 'dfv']);
    ok('docker', ['rmi', 'dfimage:v1']);
  });

  test('system prune and builder prune: prompts, errors, what they remove', () => {
    reset();
    // Prompts answered "no" (or not at all): nothing removed, status 0.
    for (const input of ['n\n', '']) {
      same(['system', 'prune'], { input });
      same(['system', 'prune', '-a', '--filter', 'label=a=b', '--filter', 'until=1h', '--filter', 'label!=x', '--filter', 'label=a=b'], { input });
      same(['system', 'prune', '--volumes'], { input });
      same(['builder', 'prune'], { input });
      same(['builder', 'prune', '-a'], { input });
    }
    same(['system', 'prune', '--volumes', '--filter', 'until=1h']);
    same(['system', 'prune', '--filter', 'bad']);
    same(['system', 'prune', 'extra']);
    same(['builder', 'prune', '--keep-storage', '1x']);
    same(['builder', 'prune', 'extra']);
    for (const help of [['system', 'prune', '--help'], ['builder', 'prune', '--help'], ['builder', '--help']]) same(help);

    // The same state twice: once pruned by berth, once by docker; the same report but for the IDs.
    ok('docker', ['run', '-d', '--name', 'keep', 'busybox', 'sleep', '1000']);
    const setup = () => {
      // From a clean slate each time: what one run leaves (a retagged image) would change the next.
      ok('docker', ['system', 'prune', '-a', '-f', '--volumes']);
      ok('docker', ['volume', 'rm', '-f', 'named']);
      ok('docker', ['run', '--name', 'p1', 'busybox', 'true']);
      ok('docker', ['run', '--name', 'p2', '-v', '/anon', 'busybox', 'sh', '-c', 'head -c 3000 /dev/zero > /f']);
      ok('docker', ['network', 'create', 'pn1']);
      ok('docker', ['network', 'create', 'pn2']);
      ok('docker', ['volume', 'create', 'named']);
      // An image no container uses: removed by -a only.
      ok('docker', ['commit', 'p1', 'unused:v1']);
    };
    const ids = (s: string) => s.replace(/[0-9a-f]{64}/g, '<id>');
    const twice = (args: string[], input?: string) => {
      setup();
      const b = d.berth(args, { input });
      setup();
      const k = d.docker(args, { input });
      assert.equal(b.status, k.status, `${args.join(' ')}: ${b.stderr}`);
      assert.equal(ids(b.stdout), ids(k.stdout), `${args.join(' ')}: stdout`);
      assert.equal(b.stderr, norm(k.stderr), `${args.join(' ')}: stderr`);
      return b.stdout;
    };
    const out = twice(['system', 'prune', '-f']);
    assert.match(out, /^Deleted Containers:\n[0-9a-f]{64}\n[0-9a-f]{64}\n\nDeleted Networks:\npn1\npn2\n\nTotal reclaimed space: \d/);
    // What plain prune left (the named volume, the anonymous one, the unused image) goes with -a --volumes,
    // except the named volume (anonymous only) and the image `keep` runs.
    const all = twice(['system', 'prune', '-a', '--volumes'], 'y\n');
    assert.match(all, /Deleted Volumes:\n[0-9a-f]{64}\n/);
    assert.match(all, /Deleted Images:\nuntagged: unused:v1\ndeleted: sha256:[0-9a-f]{64}\n/);
    assert.equal(ok('docker', ['volume', 'ls', '-q']), 'named\n');
    same(['system', 'prune', '-f', '--filter', 'label=nomatch=1']);
    same(['builder', 'prune', '-f']);
    same(['builder', 'prune', '-f', '-a', '--filter', 'until=1h', '--keep-storage', '1g']);
    // The per-kind prunes share the reports.
    same(['container', 'prune', '-f']);
    same(['image', 'prune', '-f']);
    same(['network', 'prune', '-f']);
    same(['volume', 'prune', '-f']);
    ok('docker', ['rm', '-f', 'keep']);
    ok('docker', ['volume', 'rm', 'named']);
  });

  test('stats: the columns docker shows, one row per container, errors as docker', async () => {
    reset();
    ok('docker', ['run', '-d', '--name', 'st1', 'busybox', 'sleep', '1000']);
    ok('docker', ['run', '-d', '--name', 'st2', 'busybox', 'sh', '-c', 'head -c 20000000 /dev/zero > /dev/shm/z; exec sleep 1000']);
    ok('docker', ['create', '--name', 'st3', 'busybox', 'true']);
    const ids = Object.fromEntries(['st1', 'st2', 'st3'].map((n) => [n, ok('docker', ['inspect', '-f', '{{.Id}}', n]).trim()]));
    // The titles; their widths follow the values below them.
    const titles = (table: string) => table.split('\n')[0].split(/ {2,}/);
    const header = titles(ok('docker', ['stats', '--no-stream', 'st1']));
    assert.deepEqual(header, ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS']);
    const row = (name: string, id: string) => new RegExp(`^${id}\\s+${name}\\s+\\d+\\.\\d\\d%\\s+\\d+(\\.\\d+)?[KMG]?i?B / \\d+(\\.\\d+)?[KMG]?i?B\\s+\\d+\\.\\d\\d%\\s+\\d+(\\.\\d+)?[kMG]?B / \\d+(\\.\\d+)?[kMG]?B\\s+\\d+(\\.\\d+)?[kMG]?B / \\d+(\\.\\d+)?[kMG]?B\\s+\\d+$`);

    // Without names: the running containers, newest first (the engine's list order).
    const lines = ok('berth', ['stats', '--no-stream']).split('\n');
    assert.deepEqual(titles(lines[0]), header);
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.match(lines[1], row('st2', ids.st2.slice(0, 12)));
    assert.match(lines[2], row('st1', ids.st1.slice(0, 12)));
    assert.equal(lines[3], '');
    const withAll = ok('berth', ['container', 'stats', '--no-stream', '-a']).split('\n');
    assert.deepEqual(withAll.slice(1, -1).map((l) => l.split(/\s+/)[1]), ['st3', 'st2', 'st1']);
    // A container that does not run has nothing to measure: the same zeros as docker prints.
    same(['stats', '--no-stream', 'st3']);
    same(['stats', '--no-stream', '--format', '{{.Name}} {{.Container}} {{.ID}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', 'st3']);
    same(['stats', '--no-stream', '--format', 'json', 'st3']);
    same(['stats', '--no-stream', '--format', 'table {{.Container}}\t{{.Name}}\t{{.ID}}', '--no-trunc', 'st1', 'st2']);
    same(['stats', '--no-stream', '--format', '{{.Nope}}', 'st1']);
    same(['stats', '--no-stream', 'nope', 'st1']);
    same(['stats', '--bogus']);
    same(['stats', '--help']);

    // A running container's numbers: its memory (20 MB in its /dev/shm, a tmpfs: not page cache) and its one process.
    const json = JSON.parse(ok('berth', ['stats', '--no-stream', '--format', 'json', 'st2']));
    assert.deepEqual(Object.keys(json), ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);
    assert.equal(json.Container, 'st2');
    assert.equal(json.ID, ids.st2.slice(0, 12));
    assert.equal(json.PIDs, '1');
    assert.match(json.MemUsage, /^\d+(\.\d+)?MiB \/ /);
    assert.ok(parseFloat(json.MemUsage) >= 19, json.MemUsage);
    assert.match(ok('berth', ['stats', '--no-stream', '--no-trunc', '--format', '{{.ID}}', 'st1']), new RegExp(`^${ids.st1}\n$`));

    // Streaming: frames drawn over each other (cursor home, lines erased, the rest cleared); stopped by us.
    const frames = await new Promise<string>((resolve, reject) => {
      const p = spawn(BERTH, ['stats', 'st1'], { env: d.env });
      let out = '';
      p.stdout.on('data', (c) => {
        out += c;
        if (out.split('\x1b[J').length > 2) p.kill();
      });
      p.on('error', reject);
      p.on('exit', () => resolve(out));
    });
    const first = frames.split('\x1b[J')[0];
    assert.ok(first.startsWith('\x1b[H'), JSON.stringify(first));
    const frameLines = first.slice(3).split('\n');
    assert.ok(frameLines[0].endsWith('\x1b[K'));
    assert.deepEqual(titles(frameLines[0].slice(0, -3)), header);
    assert.match(frameLines[1].replace(/\x1b\[K$/, ''), row('st1', ids.st1.slice(0, 12)));
    assert.deepEqual(frameLines.slice(2), ['\x1b[K', '']);
    ok('docker', ['rm', '-f', 'st1', 'st2', 'st3']);
  });
});
