import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

describe('concurrent clients', () => {
  it('accepts 100 messages sent at once and delivers each exactly once', async () => {
    const upstream = await new Upstream().start();
    const relay = await startRelay({ smartHost: upstream.address });
    try {
      const port = relayPort(relay);
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) => sendMail({ port, from: 'a@example.com', to: [`n${i}@example.net`], subject: `n${i}` })),
      );
      assert.equal(replies.filter((r) => r.response.startsWith('250 ')).length, 100);
      await upstream.waitFor(100, 60_000);
      const recipients = upstream.received.map((m) => m.to[0]);
      assert.equal(new Set(recipients).size, 100, 'no duplicates');
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue to empty');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});
