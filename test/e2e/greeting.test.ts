// The 220 greeting goes out at once (greetingDelay 0), or after greetingDelay with early talkers refused; and
// smtp-server still has the 100 ms early-talker timer that src/smtp/greeting.ts works around. Only lower bounds
// on time are asserted: a slow machine makes a wait longer, never shorter.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { LIBRARY_GREETING_WAIT_MS } from '../../src/smtp/greeting.js';
import { startLoggedRelay, portOf, type LoggedRelay } from '../helpers/inbound.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { Upstream } from '../helpers/upstream.js';

/** Connects, writes EHLO at once (before any greeting could be read) and returns the first two replies. */
async function talkAtOnce(port: number): Promise<{ codes: number[]; texts: string[] }> {
  const client = await RawSmtp.connect({ port });
  await client.write('EHLO early.test\r\n');
  const replies = [];
  for (let i = 0; i < 2; i++) {
    const reply = await client.reply(5_000).catch(() => undefined);
    if (!reply) break;
    replies.push(reply);
  }
  client.socket.destroy();
  return { codes: replies.map((r) => r.code), texts: replies.map((r) => r.text) };
}

/** Milliseconds from connect() to the 220. */
async function greetingWait(port: number): Promise<number> {
  const started = performance.now();
  const { client, greeting } = await RawSmtp.open({ port });
  const waited = performance.now() - started;
  assert.equal(greeting.code, 220);
  await client.quit();
  return waited;
}

describe('greeting', () => {
  let upstream: Upstream;
  before(async () => {
    upstream = await new Upstream().start();
  });
  after(() => upstream.stop());

  it(`smtp-server itself still waits ${LIBRARY_GREETING_WAIT_MS} ms before its greeting (the timer greeting.ts replaces)`, async () => {
    const server = new SMTPServer({ disableReverseLookup: true, logger: false, authOptional: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.server.address() as { port: number }).port;
      const waited = await greetingWait(port);
      // If this fails, smtp-server changed its early-talker timer: check setGreetingDelay against the new code.
      assert.ok(waited >= LIBRARY_GREETING_WAIT_MS - 5, `plain smtp-server greeted after ${waited.toFixed(1)} ms`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  describe('greetingDelay 0 (default)', () => {
    let relay: LoggedRelay;
    before(async () => {
      relay = await startLoggedRelay(`127.0.0.1:${upstream.port}`);
    });
    after(() => relay.relay.stop());

    it('greets before reading anything: a client that talks at once gets 220 then 250, never "talk too soon"', async () => {
      for (let i = 0; i < 5; i++) {
        const { codes, texts } = await talkAtOnce(portOf(relay.relay));
        assert.deepEqual(codes.slice(0, 2), [220, 250], texts.join(' | '));
      }
    });

    it('sends exactly one greeting, also after the library timer has fired', async () => {
      const client = await RawSmtp.connect({ port: portOf(relay.relay) });
      const greeting = await client.reply();
      assert.equal(greeting.code, 220);
      await new Promise((resolve) => setTimeout(resolve, LIBRARY_GREETING_WAIT_MS * 2));
      const ehlo = await client.command('EHLO one.test');
      assert.equal(ehlo.code, 250, `the reply after EHLO was ${ehlo.text}: a second greeting?`);
      const noop = await client.command('NOOP');
      assert.equal(noop.code, 250);
      await client.quit();
    });
  });

  describe('greetingDelay above 0', () => {
    let relay: LoggedRelay;
    const delay = 300;
    before(async () => {
      relay = await startLoggedRelay(`127.0.0.1:${upstream.port}`, { greetingDelay: `${delay}ms` });
    });
    after(() => relay.relay.stop());

    it('waits greetingDelay (longer than the library timer, which is swallowed) before the 220', async () => {
      const waited = await greetingWait(portOf(relay.relay));
      assert.ok(waited >= delay - 5, `greeted after ${waited.toFixed(1)} ms`);
    });

    it('refuses a client that talks before the greeting with 421', async () => {
      const { codes, texts } = await talkAtOnce(portOf(relay.relay));
      assert.equal(codes[0], 421, texts.join(' | '));
      assert.match(texts[0]!, /talk too soon/);
    });
  });
});
