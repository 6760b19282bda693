// Guards against a defect found in review (fixed with this test): RouteHealth.failed() picks slowRetry (a 421: the host is up and busy) only when the route's
// reply starts with an SMTP code; RoutingTransport prefixes each host's reply with its label whenever the route
// has more than one host ("127.0.0.1:p1: 421 ...; 127.0.0.1:p2: 421 ..."), so a two-host route whose hosts both
// answer 421 is probed every probeInterval (250 ms by default), a full session to each host each time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, relayPort, startRelay, SteppedClock } from '../helpers/relay.js';
import { startRefusingHost } from '../helpers/refusing-host.js';

describe('a route whose hosts answer 421', () => {
  it('is probed every slowRetry, not every probeInterval, when it has two hosts', async () => {
    const a = await startRefusingHost();
    const b = await startRefusingHost();
    const clock = new SteppedClock();
    const relay = await startRelay({
      smartHost: a.address,
      settings: { smartHost: [a.address, b.address], probeInterval: '100ms', retry: ['60s'] }, // slowRetry: 60 s
      clock,
    });
    try {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ops@example.net'], subject: 'busy' });
      assert.match(response, /^250 /);
      await eventually(() => a.connections() >= 1 && relay.scheduler.isRouteDown('default') && relay.scheduler.inFlight === 0, 10_000, 'the first attempt');
      const sessions = a.connections();
      // The next probe is due 60 s later (slowRetry).
      // Time jumps a probeInterval at a time, then to just before slowRetry (60 s): a probe due on a jump
      // starts at once, so none may start.
      for (let i = 1; i <= 10; i++) {
        clock.advance(100);
        assert.equal(relay.scheduler.inFlight, 0, `a probe ${i * 100} ms after the first attempt`);
      }
      clock.advance(58_000);
      assert.equal(relay.scheduler.inFlight, 0, 'a probe within a minute of the first attempt');
      assert.equal(a.connections(), sessions, 'no more sessions');
    } finally {
      await relay.stop(1_000);
      await a.close();
      await b.close();
    }
  });
});
