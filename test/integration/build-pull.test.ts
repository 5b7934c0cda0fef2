import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, Daemon, startDaemon } from './harness';

/** `berth registry serve --addr 127.0.0.1:0` in a temp root; resolves with the bound address. */
async function startRegistry(root: string): Promise<{ proc: ChildProcess; addr: string }> {
  const proc = spawn(process.execPath, [BERTH, 'registry', 'serve', '--addr', '127.0.0.1:0', '--root', root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const addr = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on http:\/\/(127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`registry exited with ${code}: ${out}`)));
  });
  return { proc, addr };
}

// build --pull (docker CLI and berth build): the FROM image is pulled even when the daemon has it,
// through the engine's registry client, from berth's own registry on 127.0.0.1; without --pull the
// local image is used, and a missing one is pulled.
describe('build --pull', () => {
  let d: Daemon;
  let reg: { proc: ChildProcess; addr: string };
  let tmp: string;
  before(async () => {
    tmp = mkdtempSync('/tmp/berth-test-build-pull-');
    reg = await startRegistry(join(tmp, 'registry'));
    d = await startDaemon();
    d.env.DOCKER_BUILDKIT = '0';
  });
  after(async () => {
    await d?.stop();
    if (reg?.proc.exitCode === null) {
      const exited = new Promise((r) => reg.proc.once('exit', r));
      process.kill(reg.proc.pid!, 'SIGTERM');
      await exited;
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const context = (name: string, dockerfile: string): string => {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    return dir;
  };
  const idOf = (ref: string) => ok(['image', 'inspect', '-f', '{{.Id}}', ref]).trim();

  test('--pull gets the newer base; without it the local base is kept; a missing base is pulled', () => {
    const base = `${reg.addr}/base:latest`;
    // v1 and v2 of the base, v1 pushed first, then v2 under the same tag; the daemon keeps v1 as base:latest.
    ok(['build', '-q', '--network', 'none', '-t', base, context('v1', 'FROM busybox\nRUN echo v1 > /version\n')]);
    const v1 = idOf(base);
    ok(['push', base]);
    ok(['build', '-q', '--network', 'none', '-t', 'base-v2', context('v2', 'FROM busybox\nRUN echo v2 > /version\n')]);
    const v2 = idOf('base-v2');
    ok(['tag', 'base-v2', base]);
    ok(['push', base]);
    ok(['tag', v1, base]);
    assert.equal(idOf(base), v1);

    const child = context('child', `FROM ${base}\nCMD ["cat", "/version"]\n`);
    for (const [cli, build] of [
      ['docker', (args: string[]) => d.docker(['build', '--network', 'none', ...args], { timeout: 60_000 })],
      ['berth', (args: string[]) => d.berth(['build', '--network', 'none', '--progress', 'plain', ...args], { timeout: 60_000 })],
    ] as const) {
      ok(['tag', v1, base]);
      const kept = build(['-t', `child:${cli}-local`, child]);
      assert.equal(kept.status, 0, `${cli}: ${kept.stdout}\n${kept.stderr}`);
      assert.doesNotMatch(kept.stdout, /Pulling from|Downloaded newer image/, cli);
      assert.equal(ok(['run', '--rm', `child:${cli}-local`]), 'v1\n', cli);
      assert.equal(idOf(base), v1, cli);

      const pulled = build(['--pull', '-t', `child:${cli}-pulled`, child]);
      assert.equal(pulled.status, 0, `${cli}: ${pulled.stdout}\n${pulled.stderr}`);
      assert.match(pulled.stdout, /Downloaded newer image for/, cli);
      assert.ok(pulled.stdout.indexOf('Downloaded newer image') < pulled.stdout.indexOf('Step 1/2'), pulled.stdout);
      assert.equal(ok(['run', '--rm', `child:${cli}-pulled`]), 'v2\n', cli);
      assert.equal(idOf(base), v2, cli);

      // Up to date: --pull asks the registry again and changes nothing.
      const again = build(['--pull', '-t', `child:${cli}-pulled`, child]);
      assert.equal(again.status, 0, `${cli}: ${again.stdout}\n${again.stderr}`);
      assert.match(again.stdout, /Image is up to date for/, cli);
    }

    // A base this daemon lacks is pulled without --pull too.
    ok(['rmi', '-f', base]);
    for (const t of ['docker-local', 'docker-pulled', 'berth-local', 'berth-pulled']) ok(['rmi', `child:${t}`]);
    const missing = d.docker(['build', '--network', 'none', '-t', 'child:missing', child], { timeout: 60_000 });
    assert.equal(missing.status, 0, missing.stdout + missing.stderr);
    assert.match(missing.stdout, /Downloaded newer image for/);
    assert.equal(ok(['run', '--rm', 'child:missing']), 'v2\n');
  });

  test('a base the registry does not have fails the build before any step, with or without --pull', () => {
    const ctx = context('nosuch', `FROM ${reg.addr}/nosuch:1\nRUN echo STEP-RAN\n`);
    for (const args of [['build'], ['build', '--pull']]) {
      for (const run of [d.docker, d.berth]) {
        const r = run([...args, '-t', 'nosuch:built', ctx], { timeout: 60_000 });
        assert.notEqual(r.status, 0, r.stdout);
        assert.match(r.stderr, /not found|unknown/i);
        assert.doesNotMatch(r.stdout, /Step 1|STEP-RAN/);
      }
    }
    assert.notEqual(d.docker(['image', 'inspect', 'nosuch:built']).status, 0);
  });
});
