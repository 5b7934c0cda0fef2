import { spawn } from 'node:child_process';
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BerthError, invalidArgument } from '../base/errors';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Detects a compression format from a stream's first bytes (at least 6 for xz). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * Runs a filter program (`xz -dc`) as a stream: `input` goes to its stdin, its stdout is returned.
 * The returned stream ends only after the program exited 0; a non-zero exit (a corrupt input)
 * destroys it with an InvalidArgument error carrying the program's stderr. Destroying the returned
 * stream (or aborting `signal`) kills the program.
 */
export function spawnFilter(file: string, args: readonly string[], input: Readable, signal?: AbortSignal): Readable {
  const out = new PassThrough();
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  let exited = false;
  let stdoutDone = false;
  let exitCode: number | null = null;
  let failed: Error | undefined;
  const finish = () => {
    if (!exited || !stdoutDone || out.destroyed) return;
    if (failed) out.destroy(failed);
    else if (exitCode !== 0) {
      out.destroy(invalidArgument(`${file}: ${Buffer.concat(stderr).toString().trim() || `exit status ${exitCode}`}`));
    } else out.end();
  };
  const kill = () => {
    if (!exited) child.kill('SIGKILL');
  };
  child.stderr.on('data', (b: Buffer) => { if (stderr.length < 64) stderr.push(b); });
  child.on('error', (e) => { failed = new BerthError('Internal', `${file}: ${e.message}`, { cause: e }); exited = true; stdoutDone = true; finish(); });
  child.on('close', (code) => { exited = true; exitCode = code; finish(); });
  child.stdout.on('end', () => { stdoutDone = true; finish(); });
  child.stdout.pipe(out, { end: false });
  child.stdin.on('error', () => undefined); // the filter may exit early on bad input; its exit code tells
  input.on('error', (e) => { failed = e; kill(); });
  input.pipe(child.stdin);
  out.on('close', () => { kill(); if (!input.destroyed && !input.readableEnded) input.destroy(); });
  if (signal) {
    const onAbort = () => { failed = new BerthError('Canceled', `${file}: canceled`); kill(); };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    out.on('close', () => signal.removeEventListener('abort', onAbort));
  }
  return out;
}

/**
 * Returns the uncompressed content of `input`, detecting gzip (zlib, in process), bzip2, xz and
 * zstd (through `bzip2 -dc`, `xz -dc`, `zstd -dc`) from its magic bytes; uncompressed input is
 * passed through unchanged. Errors of the input or the decoder destroy the returned stream.
 */
export function decompressStream(input: Readable, signal?: AbortSignal): Readable {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  let length = 0;
  let decided = false;
  let ended = false;
  const decide = () => {
    if (decided) return;
    decided = true;
    input.off('data', onData);
    input.off('end', onEnd);
    input.off('error', onError);
    // (One chunk, often the whole input, is used as it is: concat would copy it.)
    const head = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    let source: Readable;
    if (ended) source = Readable.from(head.length ? [head] : []);
    else {
      input.pause();
      input.unshift(head);
      source = input;
    }
    const kind = detectCompression(head);
    let decoded: Readable;
    switch (kind) {
      case 'gzip': {
        const gunzip = createGunzip();
        pipeline(source, gunzip, () => undefined);
        decoded = gunzip;
        break;
      }
      case 'bzip2': decoded = spawnFilter('bzip2', ['-dc'], source, signal); break;
      case 'xz': decoded = spawnFilter('xz', ['-dc'], source, signal); break;
      case 'zstd': decoded = spawnFilter('zstd', ['-dc', '-q'], source, signal); break;
      default: decoded = source;
    }
    decoded.on('error', (err: Error) => {
      if (!out.destroyed) out.destroy(kind === 'gzip' && !(err instanceof BerthError) ? invalidArgument(`gzip: ${err.message}`, err) : err);
    });
    decoded.pipe(out);
  };
  const onData = (b: Buffer) => {
    chunks.push(b);
    length += b.length;
    if (length >= 6) decide();
  };
  const onError = (e: Error) => { decided = true; out.destroy(e); };
  input.on('data', onData);
  const onEnd = () => { ended = true; decide(); };
  input.on('end', onEnd);
  input.on('error', onError);
  out.on('close', () => { if (!input.destroyed && !input.readableEnded) input.destroy(); });
  return out;
}
