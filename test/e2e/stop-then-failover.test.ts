// Guards against a defect found in review (fixed with this test): Relay.stop() waits `grace` for attempts, then closes the transport, which cuts the attempts'
// connections; each cut attempt then fails over to the next host of its route and opens a NEW connection there
// (SmartHostTransport.#connect does not look at #closed), delivering after stop() returned and after the spool
// lock was released (another relay process may own Queue by then).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { startHangingHost } from '../helpers/hanging-host.js';
import { eventually, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

describe('stop()', () => {
  it('no attempt connects anywhere after stop() returned', async () => {
    const hanging = await startHangingHost();
    const second = await new Upstream().start();
    const relay = await startRelay({
      smartHost: hanging.address,
      settings: { smartHost: [hanging.address, second.address], smartHostTimeout: '30s' },
    });
    let stopped = false;
    try {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ops@example.net'], subject: 'in flight at stop' });
      assert.match(response, /^250 /);
      await eventually(() => hanging.open() === 1, 10_000, 'the attempt waiting for the first host');
      await relay.stop(200);
      stopped = true;
      const connectionsAtStop = second.connections;
      // The attempt cut by stop() ends (a failover would connect to the second host before it ended).
      await eventually(() => relay.scheduler.inFlight === 0 && hanging.open() === 0, 10_000, 'the cut attempt to end');
      assert.equal(second.connections, connectionsAtStop, 'a connection after stop');
    } finally {
      if (!stopped) await relay.stop(200);
      await hanging.close();
      await second.stop();
    }
  });
});
