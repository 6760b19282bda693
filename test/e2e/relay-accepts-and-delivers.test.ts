import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { sendMail } from '../helpers/client.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

describe('relay accepts and delivers', () => {
  let upstream: Upstream;
  let relay: Relay;

  before(async () => {
    upstream = await new Upstream().start();
    relay = await startRelay({ smartHost: upstream.address });
  });
  after(async () => {
    await relay.stop();
    await upstream.stop();
  });

  it('forwards the bytes intact, without the envelope lines, and empties Queue', async () => {
    const raw =
      'From: a@example.com\r\nTo: b@example.net\r\nSubject: intact\r\nMessage-ID: <1@example.com>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n' +
      'line one\r\n.leading dot\r\n..two dots\r\nX-Sender: not an envelope line\r\nlast line\r\n';
    const before = upstream.received.length;
    const { response } = await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['b@example.net'], raw });
    assert.match(response, /^250 2\.0\.0 Ok: queued as \d{8}T\d{9}Z-/);
    const [message] = (await upstream.waitFor(before + 1)).slice(before);
    assert.equal(message!.from, 'a@example.com');
    assert.deepEqual(message!.to, ['b@example.net']);
    const text = message!.data.toString('utf8');
    assert.match(text, /^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby relay\.test \(mailroot\) with E?SMTP id \S+;\r\n\t.+\r\n/);
    const afterReceived = text.replace(/^Received: [^\r]*\r\n\t[^\r]*\r\n\t[^\r]*\r\n/, '');
    assert.equal(afterReceived, raw, 'message bytes after the Received: line are exactly what the client sent');
    assert.doesNotMatch(text.split('\r\n\r\n')[0]!, /^X-Receiver:/im);
    await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 5000, 'Queue to empty');
  });

  it('sends Bcc recipients through the envelope only', async () => {
    const before = upstream.received.length;
    const raw = 'From: a@example.com\r\nTo: to@example.net\r\nSubject: bcc\r\n\r\nbody\r\n';
    await sendMail({
      port: relayPort(relay),
      from: 'a@example.com',
      to: [],
      envelope: { from: 'a@example.com', to: ['to@example.net', 'hidden@example.org'] },
      raw,
    });
    const [message] = (await upstream.waitFor(before + 1)).slice(before);
    assert.deepEqual(message!.to.sort(), ['hidden@example.org', 'to@example.net']);
    assert.doesNotMatch(message!.data.toString(), /hidden@example\.org/);
  });

  it('round-trips the null reverse-path <>', async () => {
    const before = upstream.received.length;
    await sendMail({
      port: relayPort(relay),
      from: 'mailer-daemon@example.com',
      to: [],
      envelope: { from: '', to: ['x@example.net'] },
      raw: 'From: mailer-daemon@example.com\r\nSubject: bounce\r\n\r\nbody\r\n',
    });
    const [message] = (await upstream.waitFor(before + 1)).slice(before);
    assert.equal(message!.from, '');
  });

  it('stores the queue file in IIS pickup format with CRLF line endings', async () => {
    await upstream.stop(); // keep the next message in Queue to look at it
    try {
      await sendMail({
        port: relayPort(relay),
        from: 'a@example.com',
        to: [],
        envelope: { from: 'a@example.com', to: ['one@example.net', 'two@example.net'] },
        raw: 'Subject: lf only\nFrom: a@example.com\n\nbare LF body\nand a bare CR\rhere\n',
      });
      const [name] = await filesIn(relay.spool.layout.queue, '.eml');
      assert.ok(name, 'a .eml file in Queue');
      const bytes = await fs.readFile(path.join(relay.spool.layout.queue, name));
      const text = bytes.toString('latin1');
      assert.ok(text.startsWith('X-Sender: <a@example.com>\r\nX-Receiver: <one@example.net>\r\nX-Receiver: <two@example.net>\r\nReceived: '));
      assert.doesNotMatch(text, /\r(?!\n)|(?<!\r)\n/, 'no bare CR or LF in the queue file');
      assert.match(text, /bare LF body\r\nand a bare CR\r\nhere\r\n$/);
    } finally {
      await upstream.start();
    }
    await relay.rescan();
    await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 15_000, 'Queue to empty after upstream returns');
  });
});
