// Guards against a defect found in review (fixed with this test): A route down for an operator's problem (certificate checks, a stripped STARTTLS, a token
// endpoint refusing the app's secret) has a reply that is not an SMTP reply ("ETLS: ...", "EAUTH: token ..."),
// so it is probed every probeInterval (250 ms by default) for as long as the operator takes to fix it: a new
// TCP+TLS session to the smart host (Microsoft 365, say) several times a second, for days.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, relayPort, startRelay, SteppedClock } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

describe('a route down for an operator\'s problem', () => {
  it('is not probed every probeInterval', async () => {
    const host = await new Upstream().start(); // offers no STARTTLS
    const clock = new SteppedClock();
    const relay = await startRelay({
      smartHost: host.address,
      settings: { smartHost: [{ host: '127.0.0.1', port: host.port, tls: 'required' }], probeInterval: '100ms', retry: ['60s'] },
      clock,
    });
    try {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ops@example.net'], subject: 'tls' });
      assert.match(response, /^250 /);
      await eventually(() => host.connections >= 1 && relay.scheduler.isRouteDown('default') && relay.scheduler.inFlight === 0, 10_000, 'the first attempt');
      assert.equal(relay.hostStates()[0]?.problem, 'tls');
      const sessions = host.connections;
      // Time jumps a probeInterval at a time, then to just before slowRetry (60 s): a probe due on a jump
      // starts at once, so none may start.
      for (let i = 1; i <= 10; i++) {
        clock.advance(100);
        assert.equal(relay.scheduler.inFlight, 0, `a probe ${i * 100} ms after the first attempt`);
      }
      clock.advance(58_000);
      assert.equal(relay.scheduler.inFlight, 0, 'a probe within a minute of the first attempt');
      assert.equal(host.connections, sessions, 'no more sessions');
    } finally {
      await relay.stop(1_000);
      await host.stop();
    }
  });
});
