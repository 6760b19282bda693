// A full disk when a message's .rtr is due: the .rtr cannot be written, and that must neither make a tight loop
// of delivery attempts nor leave a temp file in SortTemp per attempt.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { smallDisk } from '../helpers/small-disk.js';
import { eventually, filesIn, startRelay } from '../helpers/relay.js';
import { startRefusingHost } from '../helpers/refusing-host.js';

const disk = smallDisk('mailroot-full-rtr-');

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
    const host = await startRefusingHost();
    const relay = await startRelay({ mailroot: mountPoint, smartHost: `127.0.0.1:${host.port}`, settings: { retry: ['250ms'], minFreeSpace: '0' } });
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
