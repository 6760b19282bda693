// Guards against a defect found in review (fixed with this test): A message for two routes, lost after the final dot on one (maybeDelivered) while the other
// route is down, is held for the down route and becomes its probe (force) probeInterval later: the route that
// may already have it gets it again at once, and again at every probe while the other route stays down.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { eventually, relayPort, startRelay, SteppedClock } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';

describe('a possibly delivered message is not resent before its retry time', () => {
  it('even when another of its routes is down', async () => {
    const main = await new Upstream().start();
    let copies = 0;
    main.dataScript = () => {
      copies++;
      return 'drop'; // cut after the final dot: the upstream may have it
    };
    const corpPort = await unusedPort(); // the corp route's host is down
    const clock = new SteppedClock();
    const relay = await startRelay({
      smartHost: main.address,
      settings: { routes: { 'corp.example': `127.0.0.1:${corpPort}` }, retry: ['60s'], probeInterval: '100ms' },
      clock,
    });
    try {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['d@example.net', 'c@corp.example'], subject: 'two routes' });
      assert.match(response, /^250 /);
      await eventually(() => copies >= 1 && relay.scheduler.inFlight === 0, 10_000, 'the first copy, its attempt settled');
      // Its retry time is 60 s away: no second copy may come before then. Time jumps a probeInterval at a time,
      // then to just before the retry time; a timer due on a jump starts its attempt at once, so none may start.
      for (let i = 1; i <= 10; i++) {
        clock.advance(100);
        assert.equal(relay.scheduler.inFlight, 0, `an attempt (a probe of corp) ${i * 100} ms after the first copy`);
      }
      clock.advance(58_000);
      assert.equal(relay.scheduler.inFlight, 0, 'an attempt before the retry time');
      assert.equal(copies, 1);
    } finally {
      await relay.stop(1_000);
      await main.stop();
    }
  });
});
