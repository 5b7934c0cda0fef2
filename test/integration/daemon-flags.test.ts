import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTHD } from './harness';

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('condition not met in time');
}

test('berthd takes dockerd flags from a --config-file, and flags override it', async () => {
  const dataRoot = mkdtempSync('/tmp/berth-flags-data-');
  const execRoot = mkdtempSync('/run/bf-');
  const sock = join(execRoot, 'api.sock');
  const pidfile = join(execRoot, 'daemon.pid');
  const config = join(execRoot, 'daemon.json');
  writeFileSync(config, JSON.stringify({ hosts: [`unix://${sock}`], 'data-root': dataRoot, 'exec-root': execRoot, 'default-runtime': 'crun', 'log-level': 'error' }));
  const proc = spawn(process.execPath, [BERTHD, '--config-file', config, '--default-runtime', 'runc', '--pidfile', pidfile], { stdio: 'ignore' });
  try {
    await until(() => existsSync(sock) && existsSync(pidfile));
    const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
    await until(() => spawnSync('docker', ['version'], { env }).status === 0);
    assert.equal(statSync(sock).mode & 0o777, 0o660, 'the socket is mode 0660');
    assert.equal(readFileSync(pidfile, 'utf8').trim(), String(proc.pid));
    const info = spawnSync('docker', ['info', '--format', '{{.DefaultRuntime}} {{.DockerRootDir}}'], { env, encoding: 'utf8' });
    assert.equal(info.stdout.trim(), `runc ${dataRoot}`, 'the flag overrides the config file');
    // A second daemon on the same pidfile refuses to start.
    const second = spawnSync(process.execPath, [BERTHD, '--config-file', config, '--pidfile', pidfile], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(second.status, 0);
    assert.match(second.stderr, /pid file found/);
    const bad = spawnSync(process.execPath, [BERTHD, '--no-such-flag'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unknown flag: --no-such-flag/);
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    assert.ok(!existsSync(sock), 'berthd removes its socket on SIGTERM');
    rmSync(dataRoot, { recursive: true, force: true });
    rmSync(execRoot, { recursive: true, force: true });
  }
});
