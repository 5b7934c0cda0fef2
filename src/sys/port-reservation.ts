import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';

/** A host port held open for a published container port, so no other program can take it. */
export interface PortReservation {
  readonly port: number;
  release(): void;
}

/**
 * Binds `ip:port` (port 0: the kernel picks a free one) for tcp or udp and keeps it bound, as
 * docker-proxy and podman's conmon do. The listening socket never sees the published traffic: the
 * DNAT rules rewrite it before any local socket is chosen. Rejects with the errno error (EADDRINUSE).
 */
export function reservePort(ip: string, port: number, protocol: 'tcp' | 'udp' | 'sctp'): Promise<PortReservation> {
  const host = ip || '0.0.0.0';
  if (protocol === 'udp') {
    return new Promise((resolve, reject) => {
      const s: UdpSocket = createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4' });
      s.once('error', reject);
      s.bind({ address: host, port, exclusive: true }, () => {
        s.removeListener('error', reject);
        s.on('error', () => undefined);
        s.unref();
        resolve({ port: s.address().port, release: () => { try { s.close(); } catch { /* closed */ } } });
      });
    });
  }
  // SCTP has no Node socket: nothing holds it (the DNAT rule alone publishes it).
  if (protocol === 'sctp') return Promise.resolve({ port, release: () => undefined });
  return new Promise((resolve, reject) => {
    const srv: Server = createServer((conn) => conn.destroy());
    srv.once('error', reject);
    srv.listen({ host, port, exclusive: true, backlog: 1 }, () => {
      srv.removeListener('error', reject);
      srv.on('error', () => undefined);
      srv.unref();
      const addr = srv.address();
      resolve({ port: typeof addr === 'object' && addr ? addr.port : port, release: () => srv.close() });
    });
  });
}
