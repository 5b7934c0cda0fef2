/**
 * Docker's stream multiplexing for non-TTY attach, exec and logs: each frame is an 8-byte header
 * `[stream, 0, 0, 0, size uint32 BE]` followed by `size` bytes. stream: 0 stdin, 1 stdout, 2 stderr,
 * 3 systemerr.
 */
export function frame(stream: 'stdout' | 'stderr' | 'system', data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream === 'stdout' ? 1 : stream === 'stderr' ? 2 : 3;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}
