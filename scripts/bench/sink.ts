// The fast upstream sink, run as its own child process so its work is not counted against the load client:
// an smtp-server on loopback that discards every message and counts it. Driven over IPC by sink-control.ts.
import type net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { setGreetingDelay } from '../../src/smtp/greeting.js';
import { nowMs } from './util.js';

export type SinkRequest = { type: 'listen'; port: number } | { type: 'stats' } | { type: 'reset' };
export type SinkReply =
  | { type: 'listening'; port: number }
  | { type: 'error'; message: string }
  | { type: 'stats'; count: number; firstAt: number | null; lastAt: number | null; connections: number }
  | { type: 'reset' };

let server: SMTPServer | undefined;
let count = 0;
let firstAt: number | null = null;
let lastAt: number | null = null;
let connections = 0;

function reply(message: SinkReply): void {
  process.send?.(message);
}

function listen(port: number): void {
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onConnect: (_session, cb) => {
      connections++;
      cb();
    },
    onData: (stream, _session, cb) => {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        count++;
        lastAt = nowMs();
        firstAt ??= lastAt;
        cb();
      });
    },
  });
  setGreetingDelay(smtp, 0); // a real smart host greets at once; smtp-server alone waits 100 ms
  smtp.on('error', () => undefined);
  smtp.server.once('error', (err: Error) => reply({ type: 'error', message: err.message }));
  smtp.listen(port, '127.0.0.1', () => {
    server = smtp;
    const address = smtp.server.address();
    reply({ type: 'listening', port: typeof address === 'object' && address ? address.port : port });
  });
}

/** Stops listening, drops every connection and zeroes the counts: the next scenario starts from nothing. */
function reset(): void {
  const smtp = server;
  server = undefined;
  const done = () => {
    count = 0;
    firstAt = null;
    lastAt = null;
    connections = 0;
    reply({ type: 'reset' });
  };
  if (!smtp) return done();
  const connectionsOf = smtp as unknown as { connections?: Set<{ _socket: net.Socket }> };
  for (const conn of connectionsOf.connections ?? []) conn._socket.destroy();
  smtp.close(done);
}

process.on('message', (request: SinkRequest) => {
  if (request.type === 'listen') listen(request.port);
  else if (request.type === 'stats') reply({ type: 'stats', count, firstAt, lastAt, connections });
  else if (request.type === 'reset') reset();
});
process.on('disconnect', () => process.exit(0));
