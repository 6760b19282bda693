// One claimed file through ingest(), on a real spool: heads that span many reads come out intact.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ingest } from '../../src/pickup/ingest.js';
import { parseEnvelopeHead } from '../../src/spool/eml-format.js';
import { Spool } from '../../src/spool/spool.js';
import { tempMailroot } from '../helpers/relay.js';

describe('ingest', () => {
  let spool: Spool;
  before(async () => {
    spool = await Spool.open(await tempMailroot(), { lock: false });
  });
  after(() => spool.close());

  async function run(bytes: string, maxMessageSize = 16 * 2 ** 20) {
    await fs.writeFile(path.join(spool.layout.pickup, 'f.eml'), bytes);
    const claim = await spool.claimPickupFile('f.eml');
    const outcome = await ingest(claim, { spool, hostname: 'relay.test', maxMessageSize, dotStuffed: true, maxRecipients: 100 });
    await spool.releaseClaim(claim);
    if (outcome.kind !== 'queued') return { outcome, message: '' };
    const file = await fs.readFile(spool.queuePath(`${outcome.id}.eml`));
    await fs.rm(spool.queuePath(`${outcome.id}.eml`));
    const head = parseEnvelopeHead(file, true);
    assert.ok(head !== 'need-more' && head.ok);
    const message = file.subarray(head.value.bodyOffset).toString().replace(/^Received: [^\r]*\r\n\t[^\r]*\r\n/, '');
    return { outcome, message };
  }

  it('finds the blank line wherever it falls around the first read (16 KB)', async () => {
    for (let at = 16_378; at <= 16_388; at++) {
      const envelope = 'X-Sender: a@x.example\r\nX-Receiver: b@y.example\r\n';
      const prefix = envelope + 'Message-ID: <m@x>\r\nDate: d\r\nX-Fill: ';
      const fill = 'f'.repeat(at - prefix.length - 2);
      const text = `${prefix}${fill}\r\n\r\n.dotted body\r\nBcc: not a header here\r\n`;
      assert.equal(text.indexOf('\r\n\r\n'), at - 2);
      const { outcome, message } = await run(text);
      assert.equal(outcome.kind, 'queued', String(at));
      assert.equal(message, text.slice(envelope.length).replace('.dotted', 'dotted'), String(at));
    }
  });

  it('sends a 3 MB header section intact, and calls a big file without headers not a message', async () => {
    const lines = Array.from({ length: 40_000 }, (_, i) => `X-Trace-${i}: ${'t'.repeat(60)}\r\n`).join('');
    const text = `From: a@x.example\r\nTo: b@y.example\r\nBcc: c@z.example\r\nMessage-ID: <m@x>\r\nDate: d\r\n${lines}\r\nbody\r\n`;
    const { outcome, message } = await run(text);
    assert.equal(outcome.kind, 'queued');
    assert.deepEqual(outcome.kind === 'queued' && outcome.envelope, { sender: 'a@x.example', recipients: ['b@y.example', 'c@z.example'] });
    assert.equal(message, text.replace('Bcc: c@z.example\r\n', ''));

    const log = Array.from({ length: 60_000 }, (_, i) => `2026-11-30 04:11:28 line ${i} of a log file dropped by mistake\n`).join('');
    const bad = await run(log);
    assert.equal(bad.outcome.kind, 'bad');
    assert.match(bad.outcome.kind === 'bad' ? bad.outcome.reason : '', /not a mail message: it does not start with a header field/);
  });
});
