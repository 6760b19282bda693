// A smart host that accepts TCP and never greets is given up on after smartHostConnectTimeout (default 30 s), not
// smartHostTimeout (10 minutes): its attempts free their delivery slots, another route's mail is not held back
// behind them, and a second host of the same route carries the mail. smartHostTimeout is 60 s here, so each case
// would wait a minute without the connect timeout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { startHangingHost } from '../helpers/hanging-host.js';
import { relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const WELL_BEFORE_SMART_HOST_TIMEOUT = 20_000;

describe('a smart host that accepts and never greets', () => {
  it('does not hold back another route\'s mail beyond smartHostConnectTimeout', async () => {
    const main = await new Upstream().start();
    const corp = await startHangingHost();
    const relay = await startRelay({
      smartHost: main.address,
      settings: { routes: { 'corp.example': corp.address }, concurrency: 2, smartHostTimeout: '60s', smartHostConnectTimeout: '500ms' },
    });
    try {
      const port = relayPort(relay);
      for (const to of ['a@corp.example', 'b@corp.example']) {
        const { response } = await sendMail({ port, from: 'ca@example.com', to: [to], subject: to });
        assert.match(response, /^250 /);
      }
      const { response } = await sendMail({ port, from: 'ca@example.com', to: ['ops@example.net'], subject: 'default' });
      assert.match(response, /^250 /);
      await main.waitFor(1, WELL_BEFORE_SMART_HOST_TIMEOUT);
      assert.equal(main.received[0]!.to[0], 'ops@example.net');
    } finally {
      await relay.stop(200);
      await corp.close();
      await main.stop();
    }
  });

  it('fails over to the next host of its route', async () => {
    const hanging = await startHangingHost();
    const second = await new Upstream().start();
    const relay = await startRelay({
      smartHost: hanging.address,
      settings: { smartHost: [hanging.address, second.address], smartHostTimeout: '60s', smartHostConnectTimeout: '500ms' },
    });
    try {
      const { response } = await sendMail({ port: relayPort(relay), from: 'ca@example.com', to: ['ops@example.net'], subject: 'failover' });
      assert.match(response, /^250 /);
      await second.waitFor(1, WELL_BEFORE_SMART_HOST_TIMEOUT);
      assert.ok(hanging.connections() >= 1, 'the first host was tried first');
    } finally {
      await relay.stop(200);
      await hanging.close();
      await second.stop();
    }
  });
});
