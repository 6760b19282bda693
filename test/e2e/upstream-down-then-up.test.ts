import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { startSilentServer, Upstream } from '../helpers/upstream.js';

async function sendSome(port: number, count: number, tag: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const { response } = await sendMail({ port, from: 'ca@example.com', to: [`r${i}@example.net`], subject: `${tag} ${i}` });
    assert.match(response, /^250 /);
  }
}

describe('smart host outages', () => {
  it('queues while the smart host is down and drains the backlog once it is back', async () => {
    const upstream = await new Upstream().start();
    const port = upstream.port;
    await upstream.stop();
    // Second retry a minute away: without the backlog release the messages would wait that long.
    const relay = await startRelay({ smartHost: `127.0.0.1:${port}`, settings: { retry: ['200ms', '60s'] } });
    try {
      await sendSome(relayPort(relay), 5, 'outage');
      const queue = relay.spool.layout.queue;
      const states = async () =>
        Promise.all((await filesIn(queue, '.rtr')).map((name) => fs.readFile(path.join(queue, name), 'utf8')));
      await eventually(async () => (await states()).filter((s) => /^Attempts: 2\r$/m.test(s)).length === 5, 15_000, 'five messages on their 60 s wait');
      const state = (await states())[0]!;
      assert.match(state, /^Host-Deferred: yes\r$/m);
      assert.match(state, /^Last-Reply: .*ECONNREFUSED/m);
      assert.match(state, /^Next-Attempt: \d{4}-/m);
      assert.ok(upstream.connections === 0);

      await upstream.start(port);
      // The probe (every probeInterval) finds the host; its success releases the other four at once.
      const received = await upstream.waitFor(5, 20_000);
      assert.deepEqual(received.map((m) => m.to[0]).sort(), ['r0@example.net', 'r1@example.net', 'r2@example.net', 'r3@example.net', 'r4@example.net']);
      await eventually(async () => (await filesIn(queue)).length === 0, 10_000, 'Queue to empty (no .eml, no .rtr)');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('keeps accepting at once while the smart host hangs, and retries after the timeout', async () => {
    const silent = await startSilentServer();
    const relay = await startRelay({ smartHost: `127.0.0.1:${silent.port}`, settings: { smartHostTimeout: '500ms' } });
    try {
      await sendSome(relayPort(relay), 3, 'hang');
      const queue = relay.spool.layout.queue;
      assert.equal((await filesIn(queue, '.eml')).length, 3, 'all three queued while the host hangs');
      await eventually(async () => (await filesIn(queue, '.rtr')).length > 0, 10_000, 'a timed-out attempt recorded');
      const [rtr] = await filesIn(queue, '.rtr');
      assert.match(await fs.readFile(path.join(queue, rtr!), 'utf8'), /^Last-Reply: .*(timeout|Timeout|ETIMEDOUT)/m);
    } finally {
      await relay.stop();
      await silent.close();
    }
  });

  it('keeps a message refused with 4xx and delivers it on a later attempt', async () => {
    const upstream = await new Upstream().start();
    let refusals = 2;
    upstream.dataScript = () => (refusals-- > 0 ? [451, '4.3.0 try again later'] : undefined);
    const relay = await startRelay({ smartHost: upstream.address, settings: { retry: ['200ms'] } });
    try {
      await sendSome(relayPort(relay), 1, 'soft');
      const [message] = await upstream.waitFor(1, 20_000);
      assert.equal(message!.to[0], 'r0@example.net');
      assert.equal(refusals, -1, 'two refusals, then accepted on the third attempt');
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue to empty');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});
