import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';
import { startRefusingHost } from '../helpers/refusing-host.js';

async function onlyState(queue: string): Promise<{ name: string; text: string } | undefined> {
  const [name] = await filesIn(queue, '.rtr');
  if (!name) return undefined;
  const text = await fs.readFile(path.join(queue, name), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : { name, text };
}

describe('probes before a message is due', () => {
  // The spacing itself (probeInterval, slowRetry after a 421) is a scheduling rule tested on the mock clock in
  // test/unit/scheduler.test.ts; here the real relay shows its effect, waiting for the second attempt.
  it('a host answering 421 is asked again at slowRetry, not every probeInterval', async () => {
    const host = await startRefusingHost();
    const relay = await startRelay({ smartHost: `127.0.0.1:${host.port}`, settings: { retry: ['1s'], probeInterval: '50ms' } });
    try {
      const queue = relay.spool.layout.queue;
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['only@example.net'], subject: 'probe me' });
      assert.match(response, /^250 /);
      await eventually(async () => /^Attempts: 1\r$/m.test((await onlyState(queue))?.text ?? ''), 10_000, 'the first attempt recorded');
      assert.ok(relay.scheduler.isRouteDown('default'));
      const before = (await onlyState(queue))!;
      assert.match(before.text, /^Last-Reply: 421 /m);

      await eventually(async () => /^Attempts: 2\r$/m.test((await onlyState(queue))?.text ?? ''), 10_000, 'the second attempt recorded');
      // The route's probe (slowRetry, 1 s: it answered) and the message's own retry (1 s) may each have made one
      // connection; probing every probeInterval (50 ms) would have made about 20.
      assert.ok(host.connections() <= 3, `the 421 host was asked ${host.connections()} times for two attempts`);
      const after = (await onlyState(queue))!;
      assert.equal(after.name, before.name);
      assert.match(after.text, /^Last-Reply: 421 /m);
      assert.deepEqual(await filesIn(relay.spool.layout.sortTemp), [], 'no state file being written either');
    } finally {
      await relay.stop();
      await host.close();
    }
  });

  it('probe a host that refuses connections every probeInterval, and each leaves the .rtr as it was', async () => {
    const host = await startRefusingHost();
    const port = host.port;
    await host.close(); // nothing listens now: connections are refused
    const relay = await startRelay({ smartHost: `127.0.0.1:${port}`, settings: { retry: ['60s'], probeInterval: '100ms' } });
    try {
      const queue = relay.spool.layout.queue;
      await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['only@example.net'], subject: 'probe me' });
      await eventually(async () => /^Attempts: 1\r$/m.test((await onlyState(queue))?.text ?? ''), 10_000, 'the first attempt recorded');
      const before = (await onlyState(queue))!;
      // A listener that counts connections and answers 421 comes up on the port: the next probes reach it.
      const counting = await startRefusingHost(port);
      try {
        await eventually(() => counting.connections() >= 1, 10_000, 'a probe');
      } finally {
        await counting.close();
      }
      const after = (await onlyState(queue))!;
      assert.equal(after.text.replace(/^Last-Reply: .*$/m, ''), before.text.replace(/^Last-Reply: .*$/m, ''), 'Attempts and times unchanged');
    } finally {
      await relay.stop();
    }
  });

  it('leave its .rtr unchanged when the host is not listening at all', async () => {
    const upstream = await new Upstream().start();
    const port = upstream.port;
    await upstream.stop();
    const relay = await startRelay({ smartHost: `127.0.0.1:${port}`, settings: { retry: ['60s'], probeInterval: '100ms' } });
    try {
      const queue = relay.spool.layout.queue;
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['only@example.net'], subject: 'probe me' });
      assert.match(response, /^250 /);
      await eventually(async () => /^Attempts: 1\r$/m.test((await onlyState(queue))?.text ?? ''), 10_000, 'the first attempt recorded');
      const before = (await onlyState(queue))!;
      assert.match(before.text, /^Last-Reply: .*ECONNREFUSED/m);
      // Each probe counts a failure on the host: wait for several, each before the message's own retry time.
      const failures = () => relay.hostStates()[0]?.failures ?? 0;
      const probed = failures() + 4;
      await eventually(() => failures() >= probed, 10_000, 'four more probes');
      assert.ok(relay.scheduler.isRouteDown('default'));
      assert.equal((await onlyState(queue))!.text, before.text, 'Attempts still 1, the rest as first recorded');

      await upstream.start(port);
      await upstream.waitFor(1, 10_000);
      await eventually(async () => (await filesIn(queue)).length === 0, 10_000, 'Queue to empty (no .eml, no .rtr)');
      assert.equal(upstream.received.length, 1);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});

describe('a local error in delivery', () => {
  // That it waits slowRetry and not probeInterval is tested on the mock clock (test/unit/scheduler.test.ts);
  // here the real relay keeps the message and tries it again.
  it('keeps the message queued, without an .rtr, and tries it again', async () => {
    // The host answers only after 500 ms: time to make SortTemp unusable before the first attempt ends, so that
    // recording its failure is a local error (a file named SortTemp: no temp file can be created).
    const host = await startRefusingHost(0, 500);
    const relay = await startRelay({ smartHost: `127.0.0.1:${host.port}`, settings: { retry: ['300ms'], probeInterval: '100ms' } });
    const sortTemp = relay.spool.layout.sortTemp;
    try {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['only@example.net'], subject: 'stuck' });
      assert.match(response, /^250 /);
      await fs.rm(sortTemp, { recursive: true, force: true });
      await fs.writeFile(sortTemp, 'not a folder');
      await eventually(() => host.connections() >= 2, 10_000, 'the first attempt and another after it');
      assert.equal((await filesIn(relay.spool.layout.queue, '.eml')).length, 1, 'the message is still queued');
      assert.equal((await filesIn(relay.spool.layout.queue, '.rtr')).length, 0, 'no failure could be recorded');
    } finally {
      await fs.rm(sortTemp, { force: true });
      await fs.mkdir(sortTemp, { recursive: true });
      await relay.stop();
      await host.close();
    }
  });
});
