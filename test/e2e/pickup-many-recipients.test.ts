// A Pickup file listing tens of thousands of recipients must not hold the event loop: SMTP clients beside it are
// served as usual, and the file goes to Badmail (pickupMaxRecipients). The old parser re-read the envelope lines
// from byte 0 after every chunk and de-duplicated with Array.includes: 20 000 lines froze the relay ~115 s.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { ingest } from '../../src/pickup/ingest.js';
import { Spool } from '../../src/spool/spool.js';
import { sendMail } from '../helpers/client.js';
import { dropFile } from '../helpers/pickup.js';
import { eventually, filesIn, relayPort, startRelay, tempMailroot } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

function manyRecipients(count: number): string {
  const lines = Array.from({ length: count }, (_, i) => `X-Receiver: <user${i}@example.net>\r\n`).join('');
  return `X-Sender: <app@example.com>\r\n${lines}Subject: many\r\n\r\nbody\r\n`;
}

describe('Pickup: many recipients', () => {
  it("sends a 20 000-recipient file to Badmail while SMTP clients beside it are served", async (t) => {
    const upstream = await new Upstream().start();
    const relay = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '100ms' } });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    try {
      const port = relayPort(relay);
      await sendMail({ port, from: 'a@example.com', to: ['b@example.net'], raw: 'Subject: warm-up\r\n\r\nhi\r\n' });
      const bytes = manyRecipients(20_000);
      assert.ok(bytes.length > 600_000, 'larger than the whole-file read: parsed chunk by chunk');
      delay.enable();
      await dropFile(relay.spool.layout.pickup, 'many.eml', bytes);
      // A client sending one message after another meanwhile.
      let sent = 0;
      while ((await filesIn(relay.spool.layout.badmail, '.bdr')).length === 0) {
        await sendMail({ port, from: 'a@example.com', to: ['b@example.net'], raw: `Subject: beside ${sent}\r\n\r\nhi\r\n` });
        sent++;
        if (sent > 2000) assert.fail('no .bdr after 2000 messages');
      }
      delay.disable();
      const [bdr] = await filesIn(relay.spool.layout.badmail, '.bdr');
      assert.match(await fs.readFile(path.join(relay.spool.layout.badmail, bdr!), 'utf8'), /at least \d+ recipients, more than pickupMaxRecipients \(100\) allows/);
      // The old code blocked for minutes; a tenth of a second is already far more than a healthy loop shows.
      const maxMs = delay.max / 1e6;
      t.diagnostic(`event loop held at most ${maxMs.toFixed(1)} ms`);
      assert.ok(maxMs < 1000, `the event loop was held for ${maxMs.toFixed(0)} ms`);
      await upstream.waitFor(sent + 1, 20_000);
    } finally {
      delay.disable();
      await relay.stop();
      await upstream.stop();
    }
  });

  it('parses 40 000 X-Receiver lines, with duplicates, once (a higher pickupMaxRecipients)', async () => {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    try {
      const text = manyRecipients(40_000).replace('X-Receiver: <user1@example.net>', 'X-Receiver: <user0@example.net>');
      await fs.writeFile(path.join(spool.layout.pickup, 'f.eml'), text);
      const claim = await spool.claimPickupFile('f.eml');
      const outcome = await ingest(claim, { spool, hostname: 'relay.test', maxMessageSize: 16 * 2 ** 20, dotStuffed: true, maxRecipients: 50_000 });
      assert.equal(outcome.kind, 'queued');
      assert.equal(outcome.kind === 'queued' && outcome.envelope.recipients.length, 39_999, 'the duplicate counted once');
      const queued = await spool.readQueuedMessage(`${outcome.kind === 'queued' ? outcome.id : ''}.eml`);
      assert.ok(queued.ok && queued.value.envelope.recipients.length === 39_999, 'and read back from Queue');
    } finally {
      await spool.close();
    }
  });
});
