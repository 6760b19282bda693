// A full disk when a message's .rtr is due: the .rtr cannot be written, and that must neither make a tight loop
// of delivery attempts nor leave a temp file in SortTemp per attempt.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { smallDisk } from '../helpers/small-disk.js';
import { eventually, filesIn, startRelay } from '../helpers/relay.js';

const disk = smallDisk('mailroot-full-rtr-');

/** A smart host that answers every connection with 421 and counts them: one connection per attempt. */
async function busyHost(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.end('421 4.3.2 busy, try later\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function fill(dir: string): Promise<void> {
  const chunk = Buffer.alloc(16 * 1024, 'x');
  for (let i = 0; ; i++) {
    try {
      await fs.writeFile(path.join(dir, `filler-${i}`), chunk);
    } catch {
      return;
    }
  }
}

describe('disk full when an .rtr is due', () => {
  it('retries at the retry interval, not in a tight loop, and leaves no temp file', async (t) => {
    const mountPoint = disk.mountPoint;
    if (disk.skip || !mountPoint) return t.skip(disk.skip || 'no mount');
    const host = await busyHost();
    const relay = await startRelay({ mailroot: mountPoint, smartHost: `127.0.0.1:${host.port}`, settings: { retry: ['1s'], minFreeSpace: '0' } });
    let stopped = false;
    try {
      const queue = relay.spool.layout.queue;
      const outside = path.join(mountPoint, 'incoming');
      await fs.writeFile(outside, 'X-Sender: <a@example.com>\r\nX-Receiver: <b@example.net>\r\n\r\nSubject: x\r\n\r\nbody\r\n');
      await fs.rename(outside, path.join(queue, 'due.eml'));
      await eventually(async () => (await filesIn(queue, '.rtr')).length === 1, 10_000, 'the first .rtr');
      await fill(path.join(mountPoint, 'SortTemp', '..'));
      const before = host.connections();
      // It is still tried; how often (slowRetry after a local error, not a tight loop: the old code made
      // hundreds of attempts a second) is tested on the mock clock in test/unit/scheduler.test.ts.
      await eventually(() => host.connections() >= before + 2, 10_000, 'two more attempts on the full disk');
      assert.equal((await filesIn(queue, '.eml')).length, 1, 'the message is still queued');
      // Looked at once the relay has stopped: a write still in flight has a temp file of its own for a moment.
      await relay.stop();
      stopped = true;
      assert.deepEqual((await filesIn(relay.spool.layout.sortTemp)).filter((n) => n.endsWith('.tmp')), [], 'no temp file left in SortTemp');
    } finally {
      if (!stopped) await relay.stop();
      await host.close();
      for (const name of await fs.readdir(mountPoint)) if (name.startsWith('filler-')) await fs.rm(path.join(mountPoint, name));
    }
  });
});
