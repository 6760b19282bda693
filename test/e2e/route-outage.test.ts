// One route's outage is that route's alone: the real relay, real upstream SMTP servers on loopback. A domain
// route whose host is down (or hangs) holds back neither the default route's mail nor the other hosts of its
// own route; when it is back, its backlog goes out at once, not at each message's retry time.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readStatusFile } from '../../src/ops/status-file.js';
import { sendMail } from '../helpers/client.js';
import { startHangingHost } from '../helpers/hanging-host.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

function subjects(upstream: Upstream): string[] {
  return upstream.received.map((m) => /^Subject: (.*)$/m.exec(m.data.toString('latin1'))?.[1]?.trim() ?? '');
}

async function send(port: number, to: string, subject: string): Promise<void> {
  const { response } = await sendMail({ port, from: 'ca@example.com', to: [to], subject });
  assert.match(response, /^250 /);
}

describe('per-route outages', () => {
  it('delivers default-route mail at once while a domain route is down, and that route\'s backlog as soon as it is back', async () => {
    const main = await new Upstream().start();
    const corp = await new Upstream().start();
    const corpPort = corp.port;
    await corp.stop();
    // Retries a minute apart: only the release on recovery can deliver the corp backlog within the test.
    const relay = await startRelay({
      smartHost: main.address,
      settings: { routes: { 'corp.example': `127.0.0.1:${corpPort}` }, retry: ['60s'], probeInterval: '100ms' },
    });
    try {
      const port = relayPort(relay);
      const queue = relay.spool.layout.queue;
      for (let i = 0; i < 3; i++) await send(port, `c${i}@corp.example`, `corp ${i}`);
      await eventually(async () => (await filesIn(queue, '.rtr')).length === 3, 10_000, 'the three corp messages deferred');
      assert.equal(relay.scheduler.isRouteDown('corp.example'), true);
      for (const name of await filesIn(queue, '.rtr')) {
        const state = await fs.readFile(path.join(queue, name), 'utf8');
        assert.match(state, /^Host-Deferred: yes\r$/m);
        assert.match(state, /^Last-Reply: .*ECONNREFUSED/m);
        const next = Date.parse(/^Next-Attempt: (.*)\r$/m.exec(state)![1]!);
        const last = Date.parse(/^Last-Attempt: (.*)\r$/m.exec(state)![1]!);
        assert.ok(next - last >= 59_000, 'each waits a minute for its own retry');
      }

      for (let i = 0; i < 3; i++) await send(port, `d${i}@example.net`, `main ${i}`);
      await main.waitFor(3, 10_000);
      assert.deepEqual(subjects(main).sort(), ['main 0', 'main 1', 'main 2']);
      assert.equal(relay.scheduler.isRouteDown('default'), false);
      assert.equal(relay.scheduler.isRouteDown('corp.example'), true);
      await eventually(async () => (await filesIn(queue, '.eml')).length === 3, 10_000, 'only the corp messages left in Queue');

      // Operators see the route down in the status file (`mailroot status`).
      await eventually(async () => {
        const status = await readStatusFile(relay.spool.layout.root);
        const route = status?.routes?.find((r) => r.route === 'corp.example');
        return route?.state === 'down' && route.held === 3 && /ECONNREFUSED/.test(route.lastError ?? '');
      }, 10_000, 'the status file to show the corp route down, three messages held');

      await corp.start(corpPort);
      await corp.waitFor(3, 20_000);
      assert.deepEqual(subjects(corp).sort(), ['corp 0', 'corp 1', 'corp 2']);
      await eventually(async () => (await filesIn(queue)).length === 0, 10_000, 'Queue to empty');
      assert.equal(relay.scheduler.isRouteDown('corp.example'), false);
      assert.equal(main.received.length, 3, 'nothing for corp went to the default route');
    } finally {
      await relay.stop();
      await main.stop();
      await corp.stop();
    }
  });

  it('a probe of a route whose host never greets holds back neither other routes (even at concurrency 1) nor new mail for that route', async () => {
    const main = await new Upstream().start();
    const hang = await startHangingHost();
    const relay = await startRelay({
      smartHost: main.address,
      settings: { routes: { 'corp.example': hang.address }, smartHostTimeout: '3s', concurrency: '1', retry: ['60s'], probeInterval: '100ms' },
    });
    try {
      const port = relayPort(relay);
      const queue = relay.spool.layout.queue;
      await send(port, 'c0@corp.example', 'corp 0');
      // Its first attempt waits out the timeout (nothing was known about the route); then the route is down.
      await eventually(() => relay.scheduler.isRouteDown('corp.example'), 15_000, 'the corp route down after the timeout');
      // The probe: a connection that will wait for a greeting until the timeout.
      const probe = hang.connections() + 1;
      await eventually(() => hang.connections() >= probe, 10_000, 'the probe to connect');
      assert.ok(hang.isOpen(probe));

      await send(port, 'd0@example.net', 'main 0');
      await send(port, 'd1@example.net', 'main 1');
      await main.waitFor(2, 10_000);
      assert.ok(hang.isOpen(probe), 'both delivered while the probe still waited for its greeting');

      await send(port, 'c1@corp.example', 'corp 1');
      await eventually(async () => (await filesIn(queue, '.rtr')).length === 2, 10_000, 'the new corp message deferred');
      assert.ok(hang.isOpen(probe), 'deferred at once, while the probe still waited');
      assert.equal(hang.connections(), probe, 'without a connection of its own');
    } finally {
      await relay.stop();
      await main.stop();
      await hang.close();
    }
  });

  it('the half-open probe of a failed host that hangs holds back no mail for the other host of its route (concurrency 1)', async () => {
    const hang = await startHangingHost();
    const second = await new Upstream().start();
    const relay = await startRelay({
      smartHost: hang.address,
      settings: { smartHost: [hang.address, second.address], smartHostTimeout: '3s', hostDownTime: '300ms', concurrency: '1' },
    });
    try {
      const port = relayPort(relay);
      await send(port, 'a@example.net', 'first');
      await second.waitFor(1, 15_000); // after the first host's timeout
      const state = () => relay.hostStates().find((s) => s.host === hang.address)!;
      assert.equal(state().condition, 'down');
      await eventually(() => Date.now() >= state().retryAt!, 5_000, 'the hanging host due for its half-open probe');

      // The next message finds the host due for its half-open probe: a connection without a message tries it,
      // while the message itself goes to the second host.
      await send(port, 'b@example.net', 'at the probe');
      const probe = 2;
      await eventually(() => hang.connections() >= probe, 10_000, 'the half-open probe to connect');
      await eventually(() => subjects(second).includes('at the probe'), 10_000, 'that message via the second host');
      await send(port, 'c@example.net', 'meanwhile');
      await eventually(() => subjects(second).includes('meanwhile'), 10_000, 'the next message via the second host');
      assert.ok(hang.isOpen(probe), 'both delivered while the probe still waited for its greeting');
      assert.equal(hang.connections(), probe, 'no message tried the host being probed');
      // The probe times out: the host stays down, with the reason.
      await eventually(() => !hang.isOpen(probe) && state().condition === 'down' && state().failures === 2, 15_000, 'the probe to fail');
      assert.match(state().reason ?? '', /greeting|timeout|ETIMEDOUT/i);
    } finally {
      await relay.stop();
      await second.stop();
      await hang.close();
    }
  });
});
