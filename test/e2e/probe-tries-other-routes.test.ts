// Guards against a defect found in review (fixed with this test): DeliverOptions.probe applies to every route of the probe message, not just the route being
// probed: a probe of corp.example with a message that also has a recipient on a route whose host hangs waits
// for that host (smartHostTimeout, 10 min by default) before the scheduler learns corp.example is back, and
// corp's backlog waits with it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { startHangingHost } from '../helpers/hanging-host.js';
import { eventually, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

describe('a route probe', () => {
  it('is not held up by a hanging host of another route of the same message', async () => {
    const main = await new Upstream().start();
    const corp = await new Upstream().start();
    const corpPort = corp.port;
    await corp.stop();
    const hang = await startHangingHost();
    const relay = await startRelay({
      smartHost: main.address,
      settings: {
        routes: { 'corp.example': `127.0.0.1:${corpPort}`, 'hang.example': hang.address },
        smartHostTimeout: '3s',
        probeInterval: '100ms',
        retry: ['60s'],
      },
    });
    try {
      const port = relayPort(relay);
      await sendMail({ port, from: 'ca@example.com', to: ['y@corp.example', 'x@hang.example'], subject: 'both' });
      await eventually(() => relay.scheduler.isRouteDown('corp.example') && relay.scheduler.isRouteDown('hang.example'), 20_000, 'both routes down');
      await sendMail({ port, from: 'ca@example.com', to: ['z@corp.example'], subject: 'corp only' });
      await eventually(() => relay.scheduler.routeStates().find((r) => r.route === 'corp.example')?.held === 2, 10_000, 'both held for corp');
      await corp.start(corpPort);
      const subjects = () => corp.received.map((m) => /^Subject: (.*)$/m.exec(m.data.toString('latin1'))?.[1]?.trim());
      // Well before hang.example's timeout (3 s), which a probe held up by that host would wait out.
      await eventually(() => subjects().includes('corp only'), 2_000, 'the corp backlog within a few probeIntervals');
    } finally {
      await relay.stop(200);
      await hang.close();
      await corp.stop();
      await main.stop();
    }
  });
});
