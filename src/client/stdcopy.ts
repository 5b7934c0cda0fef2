import { Writable } from 'node:stream';

/** Stream ids of Docker's multiplexed attach/logs framing. */
export const STDIN = 0, STDOUT = 1, STDERR = 2, SYSTEMERR = 3;

/**
 * Demultiplexes Docker's stdcopy framing: each frame is an 8-byte header
 * `[stream, 0, 0, 0, size uint32 BE]` followed by `size` bytes of payload. Used for attach, exec
 * and logs when the container has no TTY. Frames may be split across chunks arbitrarily.
 * A frame on stream 3 (system error) makes `onSystemError` fire with its text.
 */
export class StdcopyDemuxer extends Writable {
  private pending: Buffer = Buffer.alloc(0);
  constructor(
    private readonly stdout: NodeJS.WritableStream,
    private readonly stderr: NodeJS.WritableStream,
    private readonly onSystemError?: (text: string) => void,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let waitFor: NodeJS.WritableStream | undefined;
    while (this.pending.length >= 8) {
      const stream = this.pending[0];
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      if (stream === STDOUT || stream === STDIN) {
        if (!this.stdout.write(payload)) waitFor = this.stdout;
      } else if (stream === STDERR) {
        if (!this.stderr.write(payload)) waitFor = this.stderr;
      } else if (stream === SYSTEMERR) {
        this.onSystemError?.(payload.toString());
      } else {
        done(new Error(`Unrecognized input header: ${stream}`));
        return;
      }
    }
    // Honour back-pressure of the destination before asking for more input.
    if (waitFor && (waitFor as unknown as { writableNeedDrain?: boolean }).writableNeedDrain) {
      waitFor.once('drain', () => done());
    } else {
      done();
    }
  }
}

/** Frames one payload for stream `stream` (for tests and for servers written in TypeScript). */
export function frame(stream: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}
