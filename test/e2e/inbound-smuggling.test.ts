// SMTP smuggling: no end-of-data variant splits a message here, and none reaches the upstream in a form a
// lenient server could split. Raw client in (exact bytes, TCP_NODELAY, segmented writes), raw sink out (the
// DATA bytes as they crossed the wire, still dot-stuffed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, filesIn } from '../helpers/relay.js';
import { CRLF_ONLY, messagesIn, portOf, startLoggedRelay, type LoggedRelay } from '../helpers/inbound.js';
import { RawSmtp, openTransaction } from '../helpers/raw-smtp.js';
import { RawSink, type WireMessage } from '../helpers/raw-sink.js';

const SMUGGLED = 'MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@remote.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n';

const VARIANTS: Array<[string, string]> = [
  ['<LF>.<LF>', '\n.\n'],
  ['<LF>.<CR><LF>', '\n.\r\n'],
  ['<CR><LF>.<LF>', '\r\n.\n'],
  ['<CR>.<CR>', '\r.\r'],
  ['<CR>.<CR><LF>', '\r.\r\n'],
  ['<CR><LF>.<CR>', '\r\n.\r'],
  ['<CR><LF><NUL>.<CR><LF>', '\r\n\0.\r\n'],
  ['<CR><LF>.<NUL><CR><LF>', '\r\n.\0\r\n'],
  ['<LF>..<CR><LF> (unstuffing after a bare LF)', '\n..\r\n'],
];

/** What a lenient receiver could take for the end of the data anywhere but at the very end. */
function assertUnsplittable(message: WireMessage, label: string): void {
  const wire = message.wire.toString('latin1');
  assert.ok(wire.endsWith('\r\n.\r\n'), `${label}: ends with CRLF.CRLF`);
  const body = wire.slice(0, -3); // up to and including the CRLF before the final dot
  assert.match(body, CRLF_ONLY, `${label}: no bare CR or LF on the wire: ${JSON.stringify(wire)}`);
  assert.ok(!body.includes('\0'), `${label}: no NUL on the wire`);
  assert.ok(!/\r\n\.\r\n/.test(body), `${label}: no lone dot line before the end`);
  assert.ok(!/(^|\r\n)\.(?!\.)/.test(body), `${label}: every line starting with a dot is dot-stuffed`);
}

describe('inbound SMTP smuggling', { timeout: 60_000 }, () => {
  let sink: RawSink;
  let r: LoggedRelay;
  let port: number;

  before(async () => {
    sink = await new RawSink().start();
    r = await startLoggedRelay(sink.address, { addMissingHeaders: false }); // the bytes as sent, nothing added
    port = portOf(r.relay);
  });
  after(async () => {
    await r.relay.stop();
    await sink.stop();
  });

  for (const [index, [label, sequence]] of VARIANTS.entries()) {
    it(`${label}: one message, the smuggled commands stay text, the upstream gets clean CRLF`, async () => {
      const { client } = await RawSmtp.open({ port });
      await openTransaction(client, 'legit@corp.example', ['victim@remote.example']);
      await client.write(`Subject: legit-${index}\r\n\r\nbody${sequence}${SMUGGLED}QUIT\r\n`);
      // After the real end of data: one 250, then QUIT's 221. A smuggled MAIL FROM would have added a 250.
      const replies = await client.repliesUntilClosed();
      assert.deepEqual(replies.map((x) => x.code), [250, 221], replies.map((x) => x.text).join(' | '));
      await eventually(() => sink.messages.some((m) => m.wire.includes(`Subject: legit-${index}`)), 10_000, 'the upstream to get the message');
      const message = sink.messages.find((m) => m.wire.includes(`Subject: legit-${index}`))!;
      assert.equal(message.mailFrom, 'MAIL FROM:<legit@corp.example>');
      assert.match(message.wire.toString('latin1'), /MAIL FROM:<admin@bank\.example>\r\nRCPT TO:<victim@remote\.example>\r\nDATA\r\n/, 'the smuggled commands are message text');
      assertUnsplittable(message, label);
      assert.ok(!sink.commands.some((c) => c.includes('admin@bank.example')), 'the smuggled sender never became a command upstream');
    });
  }

  it('a first DATA line ".." in its own TCP segment does not end the data (smtp-server <= 3.19.2 bug)', async () => {
    const { client } = await RawSmtp.open({ port });
    await openTransaction(client, 'legit@corp.example', ['victim@remote.example']);
    await client.writeSegments(['..', '\r\nMAIL FROM:<x@segment.example>\r\n.\r\n'], 100);
    assert.equal((await client.reply()).code, 250);
    await client.quit();
    await eventually(() => sink.messages.some((m) => m.wire.includes('x@segment.example')), 10_000, 'the segmented message upstream');
    const message = sink.messages.find((m) => m.wire.includes('x@segment.example'))!;
    // Stored as ".\r\nMAIL FROM:..." after the Received: line, sent dot-stuffed again.
    assert.match(message.wire.toString('latin1'), /\r\n\.\.\r\nMAIL FROM:<x@segment\.example>\r\n\.\r\n$/);
    assertUnsplittable(message, 'segmented ..');
    assert.ok(!sink.commands.some((c) => c.includes('x@segment.example')));
  });

  it('stores bare CR, bare LF and NUL as CRLF-only, NUL-free queue files', async () => {
    await sink.stop(); // keep the message in Queue to read it
    try {
      const { client } = await RawSmtp.open({ port });
      await openTransaction(client, 'legit@corp.example', ['victim@remote.example']);
      await client.write('Subject: stored\r\n\r\na\n.\r\nb\r.\rc\r\n\0.\r\nd\n..\ne\r\n.\r\n');
      assert.equal((await client.reply()).code, 250);
      await client.quit();
      const [text] = (await messagesIn(r.relay.spool.layout.queue)).filter((t) => t.includes('Subject: stored'));
      assert.ok(text);
      assert.match(text, CRLF_ONLY);
      assert.ok(!text.includes('\0'));
      assert.match(text, /Subject: stored\r\n\r\na\r\n\.\r\nb\r\n\.\r\nc\r\n\.\r\nd\r\n\.\r\ne\r\n$/);
    } finally {
      await sink.start();
    }
  });

  it('refuses CR, LF and NUL smuggled into envelope commands with 501', async () => {
    const { client } = await RawSmtp.open({ port });
    try {
      await client.command('EHLO client.test');
      assert.equal((await client.command('MAIL FROM:<a@corp.example> ENVID=x+0D+0ARCPT')).code, 501);
      assert.equal((await client.command('MAIL FROM:<a@corp.example>')).code, 250);
      assert.equal((await client.command('RCPT TO:<b@remote.example>\0')).code, 501);
    } finally {
      await client.quit();
    }
  });
});

describe('inbound SMTP smuggling: an LF-only client', { timeout: 30_000 }, () => {
  it('never ends DATA with <LF>.<LF>: the session times out with 421 and nothing is kept', async () => {
    const sink = await new RawSink().start();
    const r = await startLoggedRelay(sink.address, { idleTimeout: '500ms' });
    try {
      const client = await RawSmtp.connect({ port: portOf(r.relay) });
      await client.reply();
      for (const line of ['EHLO lf.only', 'MAIL FROM:<a@corp.example>', 'RCPT TO:<b@remote.example>', 'DATA']) {
        await client.write(`${line}\n`);
        await client.reply();
      }
      await client.write('Subject: lf\n\nbody\n.\n');
      const replies = await client.repliesUntilClosed();
      assert.equal(replies.at(-1)?.text, '421 4.4.2 Timeout - closing connection');
      await eventually(async () => (await filesIn(r.relay.spool.layout.sortTemp)).length === 0, 5000, 'SortTemp to be empty');
      assert.deepEqual(await filesIn(r.relay.spool.layout.queue), []);
      assert.equal(sink.messages.length, 0);
    } finally {
      await r.relay.stop();
      await sink.stop();
    }
  });
});
