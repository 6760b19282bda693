// A smart host that accepts TCP connections and never says a word (no greeting): the relay's attempt waits for
// smartHostTimeout. Counts connections and knows which are still open, so tests wait for events, not time.
import net from 'node:net';

export interface HangingHost {
  port: number;
  address: string;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections still open (an attempt waiting for the greeting). */
  open(): number;
  /** Whether the n-th connection (1 for the first) is still open. */
  isOpen(n: number): boolean;
  close(): Promise<void>;
}

export async function startHangingHost(host = '127.0.0.1'): Promise<HangingHost> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const all: net.Socket[] = [];
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    all.push(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `${host}:${port}`,
    connections: () => connections,
    open: () => sockets.size,
    isOpen: (n) => all[n - 1] !== undefined && sockets.has(all[n - 1]!),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
