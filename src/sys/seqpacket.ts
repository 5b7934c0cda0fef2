import net from 'node:net';
import { errnoCode, notFound, unavailable } from '../base/errors';
import { nativeSys } from './native';

/**
 * Opens an AF_UNIX SOCK_SEQPACKET socket (conmon's attach socket) as a net.Socket. Node's net cannot
 * connect one, so the addon connects and we wrap the fd in a pipe handle: each 'data' event is then
 * exactly one packet, and `end()` is shutdown(SHUT_WR).
 * Throws NotFound when the socket does not exist, Unavailable when nobody listens.
 */
export function connectSeqpacket(path: string): net.Socket {
  let fd: number;
  try {
    fd = nativeSys().seqpacketConnect(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw notFound(`attach socket ${path} does not exist`, e);
    throw unavailable(`connecting to ${path}: ${(e as Error).message}`, e);
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const { Pipe, constants } = (process as any).binding('pipe_wrap');
  const handle = new Pipe(constants.SOCKET);
  handle.open(fd);
  return new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
}
