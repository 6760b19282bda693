import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { smallDisk } from '../helpers/small-disk.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const disk = smallDisk('mailroot-full-');

describe('disk full', () => {
  it('answers 452 when the disk fills, leaves no partial file, and accepts again once delivery frees space', async (t) => {
    const mountPoint = disk.mountPoint;
    if (disk.skip || !mountPoint) return t.skip(disk.skip || 'no mount');
    const upstream = await new Upstream().start();
    const port = upstream.port;
    await upstream.stop();
    const relay = await startRelay({ mailroot: mountPoint, smartHost: `127.0.0.1:${port}`, settings: { retry: ['1s'], maxMessageSize: '2MB', minFreeSpace: '0' } });
    try {
      const big = (tag: string) => `Subject: ${tag}\r\n\r\n` + `${'z'.repeat(998)}\r\n`.repeat(600); // 600 KB
      await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['b@example.net'], raw: big('first') });
      await assert.rejects(
        sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['b@example.net'], raw: big('second') }),
        (err: Error & { responseCode?: number; response?: string }) => err.responseCode === 452 && /4\.3\.1 Insufficient system storage/.test(err.response ?? ''),
      );
      assert.deepEqual(await filesIn(relay.spool.layout.sortTemp), [], 'no partial file in SortTemp');
      assert.equal((await filesIn(relay.spool.layout.queue, '.eml')).length, 1, 'only the first message is queued');

      await upstream.start(port); // delivery empties the queue and frees the space
      await upstream.waitFor(1, 20_000);
      await eventually(async () => (await filesIn(relay.spool.layout.queue, '.eml')).length === 0, 10_000, 'Queue to empty');
      await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['b@example.net'], raw: big('third') });
      await upstream.waitFor(2, 20_000);
      assert.match(upstream.received[1]!.data.toString(), /Subject: third/);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});
