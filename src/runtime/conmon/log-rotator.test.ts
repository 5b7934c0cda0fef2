import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

// native/log-rotate.c against a stand-in for conmon: this test owns the log fd and the ctl fifo and
// answers "2 0 0" the way conmon 2.1.6 does (close, create LOG.tmp, rename it over LOG).
const ROTATOR = join(__dirname, '..', '..', '..', 'dist', 'berth-logrotate');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class FakeConmon {
  readonly log: string;
  readonly ctl: string;
  private fd: number;
  private readonly ctlRead: number;
  private readonly ctlDummy: number;
  /** A process standing in for conmon's PID: the rotator exits when it does. */
  readonly proc = spawn('sleep', ['60'], { stdio: 'ignore' });
  reopens = 0;
  requests = 0;
  ignoreNext = 0;

  constructor(readonly dir: string) {
    this.log = join(dir, 'c.log');
    this.ctl = join(dir, 'ctl');
    assert.equal(spawnSync('mkfifo', [this.ctl]).status, 0);
    this.ctlRead = openSync(this.ctl, fsc.O_RDONLY | fsc.O_NONBLOCK);
    this.ctlDummy = openSync(this.ctl, fsc.O_WRONLY);
    this.fd = openSync(this.log, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o600);
  }

  write(text: string): void { writeSync(this.fd, text); }

  /** Handles pending ctl messages as conmon's main loop would. */
  poll(): void {
    const buf = Buffer.alloc(200);
    let n = 0;
    try { n = readSync(this.ctlRead, buf); } catch { return; }
    if (!buf.subarray(0, n).toString().startsWith('2 ')) return;
    this.requests++;
    if (this.ignoreNext > 0) { this.ignoreNext--; return; } // lost, as conmon loses a message sharing a read
    closeSync(this.fd);
    this.fd = openSync(`${this.log}.tmp`, fsc.O_WRONLY | fsc.O_TRUNC | fsc.O_CREAT, 0o600);
    renameSync(`${this.log}.tmp`, this.log);
    this.reopens++;
  }

  close(): void {
    this.proc.kill('SIGKILL');
    for (const fd of [this.fd, this.ctlRead, this.ctlDummy]) closeSync(fd);
  }
}

function startRotator(c: FakeConmon, maxSize: number, maxFiles: number, compress: boolean) {
  return spawn(ROTATOR, [c.log, c.ctl, String(c.proc.pid), String(maxSize), String(maxFiles), compress ? '1' : '0', join(c.dir, 'rotator.pid')], { stdio: 'ignore' });
}

/** Writes `lines` numbered lines of ~100 bytes, letting the fake conmon answer between writes. */
async function writeLines(c: FakeConmon, from: number, lines: number): Promise<void> {
  for (let i = from; i < from + lines; i++) {
    c.write(`2024-01-01T00:00:00.000000000+00:00 stdout F line ${String(i).padStart(6, '0')} ${'.'.repeat(50)}\n`);
    if (i % 10 === 0) { c.poll(); await sleep(5); }
  }
  for (let i = 0; i < 60; i++) { c.poll(); await sleep(20); }
}

const numbersIn = (text: string) => [...text.matchAll(/line (\d+)/g)].map((m) => Number(m[1]));

test('log rotator: rotates by size into numbered files, keeps max-file, loses nothing it keeps, exits with conmon', { skip: !existsSync(ROTATOR) && 'run the build first' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brt-rot-'));
  const c = new FakeConmon(dir);
  const rot = startRotator(c, 4000, 3, false);
  const exited = new Promise<number | null>((r) => rot.once('exit', r));
  try {
    await sleep(100);
    await writeLines(c, 0, 300);
    const files = readdirSync(dir).filter((f) => f.startsWith('c.log')).sort();
    assert.deepEqual(files, ['c.log', 'c.log.1', 'c.log.2']);
    for (const f of files) assert.ok(statSync(join(dir, f)).size < 8000, `${f}: ${statSync(join(dir, f)).size} bytes`);
    assert.ok(c.reopens >= 5, `${c.reopens} reopens`);
    // oldest first, the kept lines are one contiguous run ending with the last one written
    const kept = numbersIn(['c.log.2', 'c.log.1', 'c.log'].map((f) => readFileSync(join(dir, f), 'utf8')).join(''));
    kept.forEach((n, i) => i && assert.equal(n, kept[i - 1] + 1));
    assert.equal(kept.at(-1), 299);
    // a second rotator for the same log gives way at once (the lock)
    const second = spawnSync(ROTATOR, [c.log, c.ctl, String(c.proc.pid), '4000', '3', '0', join(dir, 'rotator.pid')], { timeout: 5000 });
    assert.equal(second.status, 0);
    assert.equal(Number(readFileSync(join(dir, 'rotator.pid'), 'utf8')), rot.pid);
    c.proc.kill('SIGKILL');
    assert.equal(await exited, 0);
  } finally {
    rot.kill('SIGKILL');
    c.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('log rotator: compresses rotated files; asks again when conmon lost the request', { skip: !existsSync(ROTATOR) && 'run the build first' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brt-rotz-'));
  const c = new FakeConmon(dir);
  const rot = startRotator(c, 4000, 4, true);
  try {
    await sleep(100);
    c.ignoreNext = 1;
    await writeLines(c, 0, 50); // crosses 4000 bytes once; the first request is dropped
    for (let i = 0; i < 120 && c.reopens === 0; i++) { c.poll(); await sleep(25); }
    assert.deepEqual([c.requests, c.reopens], [2, 1], 'the request came again, once');
    await writeLines(c, 50, 250);
    await sleep(200);
    const files = readdirSync(dir).filter((f) => f.startsWith('c.log')).sort();
    assert.deepEqual(files, ['c.log', 'c.log.1.gz', 'c.log.2.gz', 'c.log.3.gz']);
    const kept = numbersIn(['c.log.3.gz', 'c.log.2.gz', 'c.log.1.gz'].map((f) => gunzipSync(readFileSync(join(dir, f))).toString()).join('') + readFileSync(c.log, 'utf8'));
    kept.forEach((n, i) => i && assert.equal(n, kept[i - 1] + 1));
    assert.equal(kept.at(-1), 299);
  } finally {
    rot.kill('SIGKILL');
    c.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
