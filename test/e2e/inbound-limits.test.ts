// Every inbound limit just under and just over, with small configured values; and the abuse smtp-server
// answers itself. The process keeps serving and SortTemp is left clean.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { eventually, filesIn } from '../helpers/relay.js';
import { portOf, startLoggedRelay, type LoggedRelay } from '../helpers/inbound.js';
import { RawSmtp, openTransaction, type Reply } from '../helpers/raw-smtp.js';
import { Upstream } from '../helpers/upstream.js';

/** A message of exactly `size` bytes as smtp-server counts them (up to and including the CRLF before the dot). */
function messageOfSize(size: number, header = 'Subject: size\r\n'): string {
  const head = `${header}\r\n`;
  const fill = size - head.length - 2;
  assert.ok(fill >= 0, 'size too small for the header');
  return `${head}${'a'.repeat(fill)}\r\n`;
}

async function sendData(client: RawSmtp, message: string): Promise<Reply> {
  await client.write(`${message}.\r\n`);
  return client.reply();
}

async function sortTempEmpty(r: LoggedRelay): Promise<void> {
  await eventually(async () => (await filesIn(r.relay.spool.layout.sortTemp)).length === 0, 5000, 'SortTemp to be empty');
}

describe('inbound limits: sizes, recipients, header block and command line', { timeout: 60_000 }, () => {
  let upstream: Upstream;
  let r: LoggedRelay;
  let port: number;

  before(async () => {
    upstream = await new Upstream().start();
    await upstream.stop(); // keep accepted messages in Queue, where the test counts them
    r = await startLoggedRelay(upstream.address, {
      maxMessageSize: '10KB',
      maxSessionSize: '20KB',
      maxRecipients: 5,
      maxHeaderSize: '1KB',
      maxCommandLength: '512',
    });
    port = portOf(r.relay);
  });
  after(async () => {
    await r.relay.stop();
  });

  it('advertises SIZE and answers MAIL FROM SIZE= at the limit with 250 and over it with 552', async () => {
    const { client } = await RawSmtp.open({ port });
    try {
      const ehlo = await client.command('EHLO client.test');
      assert.ok(ehlo.lines.includes('SIZE 10240'), ehlo.text);
      assert.equal((await client.command('MAIL FROM:<a@example.com> SIZE=10240')).code, 250);
      await client.command('RSET');
      assert.equal((await client.command('MAIL FROM:<a@example.com> SIZE=10241')).code, 552);
    } finally {
      await client.quit();
    }
  });

  it('accepts a message of exactly maxMessageSize and refuses one byte more with 552 after draining, leaving no file', async () => {
    const queued = (await filesIn(r.relay.spool.layout.queue, '.eml')).length;
    const { client } = await RawSmtp.open({ port });
    try {
      await openTransaction(client, 'a@example.com', ['b@example.net']);
      assert.equal((await sendData(client, messageOfSize(10240))).code, 250);
    } finally {
      await client.quit();
    }
    const second = await RawSmtp.open({ port });
    try {
      await openTransaction(second.client, 'a@example.com', ['b@example.net']);
      const reply = await sendData(second.client, messageOfSize(10241));
      assert.equal(reply.code, 552);
      assert.match(reply.text, /^552 5\.3\.4 Message size exceeds/);
      assert.equal((await second.client.command('NOOP')).code, 250, 'the connection goes on');
    } finally {
      await second.client.quit();
    }
    assert.equal((await filesIn(r.relay.spool.layout.queue, '.eml')).length, queued + 1);
    await sortTempEmpty(r);
  });

  it('counts maxSessionSize over the connection: up to it exactly, then 452 4.3.1', async () => {
    const { client } = await RawSmtp.open({ port });
    try {
      for (let i = 0; i < 2; i++) {
        await openTransaction(client, 'a@example.com', ['b@example.net']);
        assert.equal((await sendData(client, messageOfSize(10240))).code, 250, `message ${i + 1}`);
      }
      const mail = await client.command('MAIL FROM:<a@example.com>');
      assert.equal(mail.text, '452 4.3.1 Session size limit reached; send further messages on a new connection');
    } finally {
      await client.quit();
    }
    const other = await RawSmtp.open({ port });
    try {
      await openTransaction(other.client, 'a@example.com', ['b@example.net']);
      assert.equal((await sendData(other.client, messageOfSize(10240))).code, 250);
      await openTransaction(other.client, 'a@example.com', ['b@example.net']);
      assert.equal((await sendData(other.client, messageOfSize(10239))).code, 250, '20479 bytes in all');
      assert.equal((await other.client.command('MAIL FROM:<a@example.com> SIZE=2')).code, 452, 'a declared size past the rest');
      await openTransaction(other.client, 'a@example.com', ['b@example.net']);
      const reply = await sendData(other.client, '\r\n'); // 2 bytes: 20481 in all
      assert.equal(reply.code, 452);
    } finally {
      await other.client.quit();
    }
    await sortTempEmpty(r);
  });

  it('takes maxRecipients recipients and answers the next one 452 4.5.3; a repeated one does not count', async () => {
    const { client } = await RawSmtp.open({ port });
    try {
      await client.command('EHLO client.test');
      await client.command('MAIL FROM:<a@example.com>');
      for (let i = 1; i <= 5; i++) assert.equal((await client.command(`RCPT TO:<r${i}@example.net>`)).code, 250);
      assert.equal((await client.command('RCPT TO:<r6@example.net>')).text, '452 4.5.3 Too many recipients');
      assert.equal((await client.command('RCPT TO:<R3@example.net>')).code, 250, 'a repeat replaces its entry');
    } finally {
      await client.quit();
    }
  });

  it('accepts a header block of exactly maxHeaderSize and refuses one byte more with 552', async () => {
    const header = (size: number) => `Subject: h\r\nX-Pad: ${'p'.repeat(size - 'Subject: h\r\nX-Pad: \r\n'.length)}\r\n`;
    assert.equal(header(1024).length, 1024);
    const { client } = await RawSmtp.open({ port });
    try {
      await openTransaction(client, 'a@example.com', ['b@example.net']);
      assert.equal((await sendData(client, `${header(1024)}\r\nbody\r\n`)).code, 250);
      await openTransaction(client, 'a@example.com', ['b@example.net']);
      const reply = await sendData(client, `${header(1025)}\r\nbody\r\n`);
      assert.equal(reply.code, 552);
      assert.match(reply.text, /header/);
    } finally {
      await client.quit();
    }
    await sortTempEmpty(r);
  });

  it('takes a command line of maxCommandLength bytes and closes the connection with 421 on a longer one', async () => {
    const line = (length: number) => `NOOP ${'x'.repeat(length - 5)}`;
    const { client } = await RawSmtp.open({ port });
    assert.equal((await client.command(line(512))).code, 250);
    await client.write(`${line(513)}\r\n`);
    const replies = await client.repliesUntilClosed();
    assert.equal(replies[0]?.code, 421);
    assert.match(replies[0]!.text, /too long/i);
  });
});

describe('inbound limits: connections, timeouts, disk space', { timeout: 60_000 }, () => {
  let upstream: Upstream;

  before(async () => {
    upstream = await new Upstream().start();
  });
  after(async () => {
    await upstream.stop();
  });

  it('caps connections per address and in all with 421, and counts closed ones out', async () => {
    const r = await startLoggedRelay(upstream.address, { maxConnections: 3, maxConnectionsPerIp: 2 });
    const open: RawSmtp[] = [];
    try {
      const port = portOf(r.relay);
      const connect = async (localAddress: string) => {
        const { client, greeting } = await RawSmtp.open({ port, localAddress });
        open.push(client);
        return greeting;
      };
      assert.equal((await connect('127.0.0.2')).code, 220);
      assert.equal((await connect('127.0.0.2')).code, 220);
      const perIp = await connect('127.0.0.2');
      assert.equal(perIp.text, '421 4.7.0 Too many connections from your address, try again later');
      assert.equal((await connect('127.0.0.3')).code, 220, 'another address still gets in');
      assert.equal((await connect('127.0.0.4')).code, 421, 'past maxConnections');
      await open[0]!.quit();
      await eventually(async () => (await connect('127.0.0.2')).code === 220, 5000, 'a freed slot');
      assert.ok(r.logs.some((l) => l.message === 'connection refused' && l.client === '127.0.0.2'));
    } finally {
      for (const client of open) client.destroy();
      await r.relay.stop();
    }
  });

  it('disconnects an idle client after idleTimeout with 421', async () => {
    const r = await startLoggedRelay(upstream.address, { idleTimeout: '500ms' });
    try {
      const { client } = await RawSmtp.open({ port: portOf(r.relay) });
      assert.equal((await client.command('EHLO client.test')).code, 250);
      const replies = await client.repliesUntilClosed();
      assert.equal(replies[0]?.text, '421 4.4.2 Timeout - closing connection');
    } finally {
      await r.relay.stop();
    }
  });

  it('ends a DATA transfer that trickles past dataTimeout with 421, keeping nothing (slowloris)', async () => {
    const r = await startLoggedRelay(upstream.address, { idleTimeout: '10s', dataTimeout: '500ms' });
    try {
      const { client } = await RawSmtp.open({ port: portOf(r.relay) });
      await openTransaction(client, 'a@example.com', ['b@example.net']);
      await client.write('Subject: slow\r\n\r\n');
      // One byte every 100 ms keeps the idle timer happy for ever; only the DATA deadline ends it.
      for (let i = 0; i < 50 && !client.isClosed; i++) {
        await client.write('x').catch(() => undefined);
        await sleep(100);
      }
      const replies = await client.repliesUntilClosed();
      assert.equal(replies.at(-1)?.text, '421 4.4.2 DATA took too long, closing connection');
      await sortTempEmpty(r);
      assert.deepEqual(await filesIn(r.relay.spool.layout.queue), []);
      assert.ok(r.logs.some((l) => /dataTimeout/.test(l.message)));
    } finally {
      await r.relay.stop();
    }
  });

  it('refuses MAIL FROM with 452 4.3.1 when the disk is short of minFreeSpace', async () => {
    const r = await startLoggedRelay(upstream.address, { minFreeSpace: '1000000GB' });
    try {
      const { client } = await RawSmtp.open({ port: portOf(r.relay) });
      await client.command('EHLO client.test');
      assert.equal((await client.command('MAIL FROM:<a@example.com>')).text, '452 4.3.1 Insufficient system storage');
      await client.quit();
      assert.ok(r.logs.some((l) => /low disk space/.test(l.message)));
    } finally {
      await r.relay.stop();
    }
  });

  it('removes the temp file when a client resets the connection mid-DATA, and keeps serving', async () => {
    const r = await startLoggedRelay(upstream.address);
    try {
      const port = portOf(r.relay);
      const { client } = await RawSmtp.open({ port });
      await openTransaction(client, 'a@example.com', ['b@example.net']);
      await client.write(`Subject: cut\r\n\r\n${'z'.repeat(100_000)}`);
      await eventually(async () => (await filesIn(r.relay.spool.layout.sortTemp)).length === 1, 5000, 'the temp file');
      client.socket.resetAndDestroy();
      await sortTempEmpty(r);
      assert.deepEqual(await filesIn(r.relay.spool.layout.queue), []);
      const next = await RawSmtp.open({ port });
      await openTransaction(next.client, 'a@example.com', ['b@example.net']);
      assert.equal((await sendData(next.client, 'Subject: after\r\n\r\nok\r\n')).code, 250);
      await next.client.quit();
    } finally {
      await r.relay.stop();
    }
  });

  it('answers abusive talkers with smtp-server\'s own errors', async () => {
    // Early talkers are refused only while a greetingDelay holds the greeting (the default, 0, greets at once).
    const r = await startLoggedRelay(upstream.address, { greetingDelay: '500ms' });
    try {
      const port = portOf(r.relay);
      // All four connect at once, so the greetingDelay is waited out once, not once per talker.
      const greeted = Promise.all([RawSmtp.open({ port }), RawSmtp.open({ port }), RawSmtp.open({ port })]);
      const early = await RawSmtp.connect({ port });
      await early.write('EHLO too.soon\r\n');
      assert.match((await early.repliesUntilClosed()).map((x) => x.text).join('\n'), /421 .*You talk too soon/);
      const [http, junk, flood] = await greeted;

      assert.equal((await http.client.command('GET / HTTP/1.1')).text, '421 4.4.2 HTTP requests not allowed');

      let last: Reply | undefined;
      for (let i = 0; i < 10 && !junk.client.isClosed; i++) last = await junk.client.command(`BOGUS${i}`);
      assert.equal(last?.text, '421 4.4.2 Error: too many unrecognized commands');

      // 1000 pipelined RCPTs in one write (ten times the limit): 100 accepted, the rest 452, and the server stays responsive.
      await flood.client.command('EHLO client.test');
      await flood.client.command('MAIL FROM:<a@example.com>');
      await flood.client.write(Array.from({ length: 1000 }, (_, i) => `RCPT TO:<n${i}@example.net>\r\n`).join(''));
      const codes: number[] = [];
      for (let i = 0; i < 1000; i++) codes.push((await flood.client.reply()).code);
      assert.equal(codes.filter((c) => c === 250).length, 100);
      assert.equal(codes.filter((c) => c === 452).length, 900);
      assert.equal((await flood.client.command('NOOP')).code, 250, 'still answering after the flood');
      await flood.client.quit();
    } finally {
      await r.relay.stop();
    }
  });
});
