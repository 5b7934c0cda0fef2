import type net from 'node:net';
import { LogMark, parseLogRecords, readSinceMark, recordBytes } from '../logs';
import type { AttachConnection } from '../runtime';

/** conmon's stream ids on the attach socket: each packet is 1 id byte + payload. */
const STREAM_STDOUT = 2;
const STREAM_STDERR = 3;

/**
 * An AttachConnection over conmon's SOCK_SEQPACKET attach socket. Output that arrives before
 * onOutput is registered is queued, so nothing written between create and start is lost.
 *
 * conmon 2.1 queues socket writes and sends them from its main loop; what the process writes just
 * before it exits is drained after that loop has stopped and never reaches the socket (it does
 * reach the log). So at the end we compare what we got per stream with the log written since
 * attach and deliver the missing tail from the log.
 */
export class SeqpacketAttach implements AttachConnection {
  private outputCb?: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  private endCbs: Array<() => void> = [];
  private queued: Array<['stdout' | 'stderr', Buffer]> = [];
  private ended = false;
  private readonly received = { stdout: 0, stderr: 0 };

  /** `recovery` marks where conmon's log stood at attach time (for recovering lost output). */
  constructor(private readonly sock: net.Socket, private readonly recovery?: LogMark) {
    sock.on('data', (packet: Buffer) => {
      if (packet.length < 1) return;
      const id = packet[0];
      const stream = id === STREAM_STDERR ? 'stderr' : id === STREAM_STDOUT ? 'stdout' : undefined;
      if (!stream) return;
      const data = Buffer.from(packet.subarray(1));
      this.received[stream] += data.length;
      this.emit(stream, data);
    });
    let finishing = false;
    const finish = () => {
      if (finishing) return;
      finishing = true;
      void this.recover().finally(() => {
        this.ended = true;
        // Output callbacks registered after the end still get the queued data first.
        if (this.outputCb) for (const cb of this.endCbs) cb();
      });
    };
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', () => finish());
  }

  private emit(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.outputCb) this.outputCb(stream, data); else this.queued.push([stream, data]);
  }

  private async recover(): Promise<void> {
    if (!this.recovery) return;
    // A log rotated more than once since attach (or deleted) cannot tell what is missing.
    const buf = await readSinceMark(this.recovery).catch(() => undefined);
    if (!buf) return;
    const seen = { stdout: 0, stderr: 0 };
    for (const r of parseLogRecords(buf)) {
      const bytes = recordBytes(r);
      const before = seen[r.stream];
      seen[r.stream] += bytes.length;
      const got = this.received[r.stream];
      if (seen[r.stream] <= got) continue;
      const missing = before >= got ? bytes : bytes.subarray(got - before);
      this.received[r.stream] += missing.length;
      this.emit(r.stream, Buffer.from(missing));
    }
  }

  onOutput(cb: (stream: 'stdout' | 'stderr', data: Buffer) => void): void {
    this.outputCb = cb;
    const q = this.queued;
    this.queued = [];
    for (const [s, d] of q) cb(s, d);
    if (this.ended) for (const e of this.endCbs) e();
  }

  onEnd(cb: () => void): void {
    this.endCbs.push(cb);
    if (this.ended && this.outputCb) cb();
  }

  writeStdin(data: Buffer): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(data);
  }

  closeStdin(): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.end();
  }

  close(): void {
    this.sock.destroy();
  }
}
