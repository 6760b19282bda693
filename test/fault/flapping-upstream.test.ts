import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { testIdOf, prng } from '../helpers/crash-harness.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

describe('flapping smart host', () => {
  it('delivers every message exactly once while the smart host goes up and down every few hundred ms', async () => {
    const count = 200;
    const upstream = await new Upstream().start();
    const relay = await startRelay({ smartHost: upstream.address, settings: { retry: ['1s'] } });
    const random = prng(3);
    let flapping = true;
    const flapper = (async () => {
      while (flapping) {
        await new Promise((resolve) => setTimeout(resolve, 100 + random() * 300));
        await upstream.flapDown();
        await new Promise((resolve) => setTimeout(resolve, 100 + random() * 300));
        await upstream.flapUp();
      }
    })();
    try {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: relayPort(relay), ignoreTLS: true, pool: true, maxConnections: 5 });
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          transport.sendMail({ envelope: { from: 'a@example.com', to: ['b@example.net'] }, raw: `Subject: ${i}\r\nX-Test-Id: f${i}\r\n\r\nbody\r\n` }),
        ),
      );
      transport.close();
      await new Promise((resolve) => setTimeout(resolve, 1500)); // a few flaps with mail in the queue
      flapping = false;
      await flapper;
      await upstream.waitFor(count, 60_000);
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 30_000, 'Queue to empty');
      const ids = upstream.received.map((m) => testIdOf(m.data));
      assert.equal(ids.length, count, 'no duplicates');
      assert.equal(new Set(ids).size, count);
    } finally {
      flapping = false;
      await flapper;
      await relay.stop();
      await upstream.stop();
    }
  });
});
