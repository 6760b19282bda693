// A short fuzz of random and hostile SMTP sessions from several loopback addresses (deterministic seed,
// bounded count and time), then proof that the relay still accepts and delivers, kept its access rules,
// and left SortTemp clean. Set FUZZ_SEED to replay or explore another sequence.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { eventually, filesIn } from '../helpers/relay.js';
import { CRLF_ONLY, messagesIn, portOf, startLoggedRelay, type LoggedRelay } from '../helpers/inbound.js';
import { Dice, fuzzSession } from '../helpers/fuzz.js';
import { Upstream } from '../helpers/upstream.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed1e55);
const SESSIONS = 80;
const PARALLEL = 8;

describe('inbound fuzz', { timeout: 60_000 }, () => {
  let upstream: Upstream;
  let r: LoggedRelay;
  let port: number;

  before(async () => {
    upstream = await new Upstream().start();
    r = await startLoggedRelay(upstream.address, {
      localDomains: ['corp.example', 'bücher.example'],
      allowRelay: ['127.0.0.1/32'],
      maxMessageSize: '64KB',
      maxCommandLength: '2KB',
      idleTimeout: '2s',
      dataTimeout: '3s',
      maxConnectionsPerIp: 20,
    });
    port = portOf(r.relay);
  });
  after(async () => {
    await r.relay.stop();
    await upstream.stop();
  });

  it(`survives ${SESSIONS} random and hostile sessions (seed ${SEED}) and still accepts and delivers`, async (t) => {
    const d = new Dice(SEED);
    const seeds = Array.from({ length: SESSIONS }, () => d.int(2 ** 31));
    let nextSession = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (nextSession < seeds.length) await fuzzSession(port, new Dice(seeds[nextSession++]!));
      }),
    );

    // Still serving: a normal message is accepted and delivered.
    const before = upstream.received.length;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
    try {
      const info = await transport.sendMail({ envelope: { from: 'a@corp.example', to: ['after@remote.example'] }, raw: 'Subject: after the fuzz\r\n\r\nok\r\n' });
      assert.match(info.response as string, /^250 /);
    } finally {
      transport.close();
    }
    await eventually(() => upstream.received.some((m) => m.to.includes('after@remote.example')), 15_000, 'delivery after the fuzz');
    assert.ok(upstream.received.length > before);

    // Only 127.0.0.1 may relay: everything the smart host got came from it, in clean CRLF without NUL.
    for (const message of upstream.received) {
      const text = message.data.toString('latin1');
      assert.match(text, /^Received: from \S+ \(\[127\.0\.0\.1\]\)/, 'relayed only for the allowRelay address');
      assert.match(text, CRLF_ONLY);
      assert.ok(!text.includes('\0'));
    }
    // Drop holds only local-domain recipients, in clean files.
    for (const text of await messagesIn(r.relay.spool.layout.drop)) {
      assert.match(text, CRLF_ONLY);
      for (const [, recipient] of text.matchAll(/^X-Receiver: <([^>]*)>\r$/gm)) {
        assert.match(recipient!, /@(corp\.example|xn--bcher-kva\.example)$/, `Drop recipient ${recipient}`);
      }
    }
    await eventually(async () => (await filesIn(r.relay.spool.layout.sortTemp)).length === 0, 10_000, 'SortTemp to be empty');
    const accepted = r.logs.filter((l) => l.message === 'accepted').length;
    const refused = r.logs.filter((l) => l.message === 'recipient refused').length;
    t.diagnostic(`seed ${SEED}: ${accepted} messages accepted, ${upstream.received.length} delivered, ${(await filesIn(r.relay.spool.layout.drop)).length} in Drop, ${refused} recipients refused`);
  });
});
