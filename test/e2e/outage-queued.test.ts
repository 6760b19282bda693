import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';
import { timeOfId } from '../../src/spool/ids.js';

const BURST = 9;

/** id -> .rtr text, for every message in Queue that has one. */
async function retryStates(queue: string): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (const name of await filesIn(queue, '.rtr')) {
    const text = await fs.readFile(path.join(queue, name), 'utf8').catch(() => undefined);
    if (text !== undefined) states.set(name.slice(0, -'.rtr'.length), text);
  }
  return states;
}

function field(state: string, name: string): string {
  const match = new RegExp(`^${name}: (.*)\\r$`, 'm').exec(state);
  assert.ok(match, `${name}: line in\n${state}`);
  return match[1]!;
}

describe('smart host outage: messages queued meanwhile', () => {
  it('records one deferral for each, dated from its id, without a connection of its own; all go out once the host is back', async () => {
    const upstream = await new Upstream().start();
    const port = upstream.port;
    await upstream.stop();
    const relay = await startRelay({ smartHost: `127.0.0.1:${port}`, settings: { retry: ['60s'], probeInterval: '100ms' } });
    // retry[0] is far beyond the test's length on any machine: every later change to an .rtr would be a probe's.
    try {
      const queue = relay.spool.layout.queue;
      const send = (i: number) => sendMail({ port: relayPort(relay), from: 'ca@example.com', to: [`r${i}@example.net`], subject: `queued ${i}` });

      // The first message finds the host down with a real attempt of its own.
      assert.match((await send(0)).response, /^250 /);
      await eventually(() => relay.scheduler.isRouteDown('default'), 10_000, 'the host to be known down');
      await eventually(async () => (await retryStates(queue)).size === 1, 10_000, "the first message's .rtr");

      // A burst while the host is known down: each is deferred without a connection of its own (the route's
      // probes, every 100 ms, try one message at a time).
      const burstStart = Date.now();
      const replies = await Promise.all(Array.from({ length: BURST }, (_, i) => send(i + 1)));
      for (const { response } of replies) assert.match(response, /^250 /);
      await eventually(async () => (await retryStates(queue)).size === BURST + 1, 10_000, 'an .rtr for every message');

      const early = await retryStates(queue);
      // Probes go on (each counts a failure on the host); none may change an .rtr before its retry time.
      const failures = () => relay.hostStates()[0]?.failures ?? 0;
      const probed = failures() + 2;
      await eventually(() => failures() >= probed, 10_000, 'two more probes');
      const snapshotAt = Date.now();
      const again = await retryStates(queue);
      assert.ok(relay.scheduler.isRouteDown('default'), 'the host is known down');
      const queued = (await filesIn(queue, '.eml')).map((name) => name.slice(0, -'.eml'.length));
      assert.equal(queued.length, BURST + 1, 'every message is in Queue');
      assert.equal(upstream.connections, 0);
      for (const id of queued) {
        const state = early.get(id)!;
        assert.equal(again.get(id), state, `${id}.rtr unchanged by later failed probes (not due before its retry time)`);
        assert.equal(field(state, 'Attempts'), '1', `${id}: one failure recorded`);
        assert.equal(field(state, 'First-Queued'), timeOfId(id)!.toISOString(), `${id}: First-Queued is its accept time`);
        assert.equal(field(state, 'Host-Deferred'), 'yes');
        assert.match(field(state, 'Last-Reply'), /ECONNREFUSED/);
        assert.ok(Date.parse(field(state, 'Next-Attempt')) - Date.parse(field(state, 'Last-Attempt')) >= 59_999, 'next wait is retry[0]');
        if (id !== queued[0]) {
          const firstQueued = Date.parse(field(state, 'First-Queued'));
          assert.ok(firstQueued >= burstStart - 1 && firstQueued <= snapshotAt, `${id}: First-Queued within the burst`);
        }
      }

      await upstream.start(port);
      const received = await upstream.waitFor(BURST + 1, 20_000);
      await eventually(async () => (await filesIn(queue)).length === 0, 10_000, 'Queue to empty (no .eml, no .rtr)');
      assert.equal(received.length, BURST + 1, 'each message delivered exactly once');
      assert.deepEqual(
        received.map((m) => m.to[0]).sort(),
        Array.from({ length: BURST + 1 }, (_, i) => `r${i}@example.net`).sort(),
      );
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});
