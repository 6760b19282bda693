// Guards against a defect found in review (fixed with this test): RouteHealth.failed() picks slowRetry (a 421: the host is up and busy) only when the route's
// reply starts with an SMTP code; RoutingTransport prefixes each host's reply with its label whenever the route
// has more than one host ("127.0.0.1:p1: 421 ...; 127.0.0.1:p2: 421 ..."), so a two-host route whose hosts both
// answer 421 is probed every probeInterval (250 ms by default), a full session to each host each time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, relayPort, startRelay } from '../helpers/relay.js';
import { startRefusingHost } from '../helpers/refusing-host.js';

describe('a route whose hosts answer 421', () => {
  it('is probed every slowRetry, not every probeInterval, when it has two hosts', async () => {
    const a = await startRefusingHost();
    const b = await startRefusingHost();
    const relay = await startRelay({
      smartHost: a.address,
      settings: { smartHost: [a.address, b.address], probeInterval: '100ms', retry: ['60s'] }, // slowRetry: 60 s
    });
    try {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ops@example.net'], subject: 'busy' });
      assert.match(response, /^250 /);
      await eventually(() => a.connections() >= 1 && relay.scheduler.isRouteDown('default'), 10_000, 'the first attempt');
      // The next probe is due 60 s later (slowRetry): no further connection within a few seconds.
      await assert.rejects(eventually(() => a.connections() >= 3, 3_000, 'more sessions'), /more sessions/);
    } finally {
      await relay.stop(1_000);
      await a.close();
      await b.close();
    }
  });
});
