// Guards against a defect found in review (fixed with this test): A host claimed for its half-open try (condition 'probing') whose attempt is lost after the
// final dot (maybeDelivered) is never told succeeded() or failed(): it stays 'probing' for good, claim() says
// no for ever, and while another host of its route works the first host is never used again.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/log/logger.js';
import { RoutingTransport } from '../../src/transport/routing.js';
import { Upstream } from '../helpers/upstream.js';

const body = () => Readable.from([Buffer.from('Subject: t\r\n\r\nbody\r\n')]);
const envelope = { sender: 'ca@example.com', recipients: ['ops@example.net'] };

describe('host health after a connection lost after the final dot', () => {
  it('a half-open host whose try was lost after the dot is tried again later', async () => {
    const a = await new Upstream().start();
    const b = await new Upstream().start();
    const portA = a.port;
    const portB = b.port;
    await a.stop();
    await b.stop();
    let t = 1_000_000;
    const transport = new RoutingTransport({
      smartHosts: [{ host: '127.0.0.1', port: portA }, { host: '127.0.0.1', port: portB }],
      routes: [],
      hostname: 'relay.test',
      timeout: 2_000,
      downTime: 1_000,
      log: silentLogger(),
      now: () => t,
    });
    try {
      const first = await transport.deliver(envelope, body);
      assert.equal(first.kind, 'not-sent', 'both refused');
      t += 1_000;
      await a.start(portA);
      a.dataScript = () => 'drop'; // the connection dies after the final dot
      const lost = await transport.deliver(envelope, body, { probe: 'default' }); // the scheduler's route probe
      assert.equal(lost.kind === 'not-sent' && lost.maybeDelivered, true);
      a.dataScript = () => undefined; // A is fine again
      await b.start(portB);
      t += 1_000;
      const viaB = await transport.deliver(envelope, body, { probe: 'default' });
      assert.equal(viaB.kind, 'sent');
      // Long after: ordinary mail. A is up and the first host; it should get mail again (directly, or after
      // a half-open check) within a few downTimes.
      for (let i = 0; i < 5; i++) {
        t += 10_000;
        const r = await transport.deliver(envelope, body);
        assert.equal(r.kind, 'sent');
        await new Promise((resolve) => setTimeout(resolve, 50)); // let a half-open check (if any) finish
      }
      const stateA = transport.hostStates().find((s) => s.host === `127.0.0.1:${portA}`)!;
      assert.notEqual(stateA.condition, 'probing', `host A is still '${stateA.condition}' 50 s (50 downTimes) later`);
      assert.ok(a.received.length > 0, 'mail went back to the first host');
    } finally {
      await transport.close();
      await a.stop();
      await b.stop();
    }
  });
});
