// A smart host that is up but out of service: it greets every connection with 421 (after `delayMs`) and hangs up.
// Counts connections (one per attempt), so tests wait for events, not time.
import net from 'node:net';

export interface RefusingHost {
  port: number;
  address: string;
  connections(): number;
  close(): Promise<void>;
}

export async function startRefusingHost(port = 0, delayMs = 0): Promise<RefusingHost> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    const refuse = () => socket.end('421 4.3.2 Service not available, closing transmission channel\r\n');
    if (delayMs > 0) setTimeout(refuse, delayMs).unref();
    else refuse();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    port: bound,
    address: `127.0.0.1:${bound}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
