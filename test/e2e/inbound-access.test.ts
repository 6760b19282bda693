// Who may connect and who may relay, with clients bound to different loopback source addresses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { eventually, filesIn } from '../helpers/relay.js';
import { messagesIn, portOf, startLoggedRelay, type LoggedRelay } from '../helpers/inbound.js';
import { RawSmtp, ipv6LoopbackAvailable } from '../helpers/raw-smtp.js';
import { Upstream } from '../helpers/upstream.js';

async function rcptReplies(port: number, localAddress: string, recipients: string[], host = '127.0.0.1'): Promise<number[]> {
  const { client, greeting } = await RawSmtp.open({ port, host, localAddress });
  assert.equal(greeting.code, 220, greeting.text);
  try {
    assert.equal((await client.command('EHLO client.test')).code, 250);
    assert.equal((await client.command('MAIL FROM:<sender@outside.example>')).code, 250);
    const codes: number[] = [];
    for (const recipient of recipients) codes.push((await client.command(`RCPT TO:<${recipient}>`)).code);
    return codes;
  } finally {
    await client.quit();
  }
}

async function send(port: number, localAddress: string, to: string[], raw: string, host = '127.0.0.1'): Promise<string> {
  const transport = nodemailer.createTransport({ host, port, secure: false, ignoreTLS: true, localAddress } as never);
  try {
    const info = await transport.sendMail({ envelope: { from: 'sender@outside.example', to }, raw });
    return info.response as string;
  } finally {
    transport.close();
  }
}

describe('inbound access: relay restrictions by source address', { timeout: 60_000 }, () => {
  let upstream: Upstream;
  let r: LoggedRelay;
  let port: number;

  before(async () => {
    upstream = await new Upstream().start();
    // 127.0.0.2 is loopback too, inside the default allowRelay (127.0.0.0/8): narrow it to play an outside client.
    r = await startLoggedRelay(upstream.address, { localDomains: ['corp.example', 'bücher.example'], allowRelay: ['127.0.0.1', '::1'] });
    port = portOf(r.relay);
  });
  after(async () => {
    await r.relay.stop();
    await upstream.stop();
  });

  it('lets 127.0.0.1 (in allowRelay) relay anywhere', async () => {
    const before = upstream.received.length;
    const response = await send(port, '127.0.0.1', ['someone@remote.example'], 'Subject: relayed\r\n\r\nbody\r\n');
    assert.match(response, /^250 /);
    const [message] = (await upstream.waitFor(before + 1)).slice(before);
    assert.deepEqual(message!.to, ['someone@remote.example']);
  });

  it('refuses relaying from 127.0.0.2 with 550 5.7.1 at RCPT, and logs the client', async () => {
    const codes = await rcptReplies(port, '127.0.0.2', ['someone@remote.example']);
    assert.deepEqual(codes, [550]);
    const { client } = await RawSmtp.open({ port, localAddress: '127.0.0.2' });
    await client.command('EHLO client.test');
    await client.command('MAIL FROM:<a@outside.example>');
    const reply = await client.command('RCPT TO:<someone@remote.example>');
    assert.equal(reply.text, '550 5.7.1 Unable to relay for <someone@remote.example>');
    await client.quit();
    const logged = r.logs.find((l) => l.message === 'recipient refused' && l.client === '127.0.0.2');
    assert.ok(logged, 'the refusal is logged with the client address');
    assert.equal(logged.reason, 'relay denied');
  });

  it('accepts mail for a local domain from 127.0.0.2 into Drop, in pickup format, and never upstream', async () => {
    const before = upstream.received.length;
    const response = await send(port, '127.0.0.2', ['User@CORP.EXAMPLE'], 'Subject: local\r\n\r\nfor the drop folder\r\n');
    assert.match(response, /^250 /);
    const [text] = await messagesIn(r.relay.spool.layout.drop);
    assert.ok(text, 'a file in Drop');
    // smtp-server hands the domain over in lower case (and Unicode).
    assert.match(text, /^X-Sender: <sender@outside\.example>\r\nX-Receiver: <User@corp\.example>\r\nReceived: from \S+ \(\[127\.0\.0\.2\]\)/);
    assert.match(text, /\r\n\r\nfor the drop folder\r\n$/);
    assert.deepEqual(await filesIn(r.relay.spool.layout.queue), []);
    assert.deepEqual(await filesIn(r.relay.spool.layout.sortTemp), []);
    // A message relayed after it marks the point the relay has got to: the local one did not go before it.
    assert.match(await send(port, '127.0.0.1', ['marker@remote.example'], 'Subject: after the local one\r\n\r\nbody\r\n'), /^250 /);
    const sent = (await upstream.waitFor(before + 1)).slice(before);
    assert.deepEqual(sent.map((m) => m.to), [['marker@remote.example']], 'nothing went to the smart host');
  });

  it('compares domains in one form: punycode and Unicode, any case', async () => {
    const codes = await rcptReplies(port, '127.0.0.2', ['a@xn--bcher-kva.example', 'b@BÜCHER.example', 'c@Corp.Example']);
    assert.deepEqual(codes, [250, 250, 250]);
  });

  it('never opens the relay to address tricks from an untrusted client', async () => {
    const tricks = [
      'user%evil.example@corp.example', // percent hack
      '@corp.example:user@evil.example', // source route
      '@a.example,@corp.example:user@evil.example', // source route, two hops
      '"user@evil.example"@corp.example', // quoted local part hiding an address
      '"user%evil.example"@corp.example', // quoted percent hack
      'evil.example!user@corp.example', // bang path
      'user@evil.example@corp.example', // two @
      'user@[127.0.0.1]', // IP literals are never local
      'user@[IPv6:::1]',
      'user@[IPv6:::ffff:127.0.0.1]',
      'postmaster', // no domain
      'user@corp.example.', // trailing dot
      'user@corp.example.evil.example', // local domain as a prefix
      'user@evilcorp.example', // local domain as a suffix
      'user@evil.example',
    ];
    const codes = await rcptReplies(port, '127.0.0.2', tricks);
    for (const [i, code] of codes.entries()) {
      assert.ok(code >= 500 && code < 600, `${tricks[i]} must be refused, got ${code}`);
    }
    assert.equal((await filesIn(r.relay.spool.layout.queue)).length, 0);
  });

  it('splits a message with local and remote recipients: Drop gets the local ones, the smart host the others', async () => {
    const dropBefore = (await filesIn(r.relay.spool.layout.drop)).length;
    const before = upstream.received.length;
    await send(port, '127.0.0.1', ['one@corp.example', 'two@remote.example'], 'Subject: mixed\r\n\r\nboth\r\n');
    const [message] = (await upstream.waitFor(before + 1)).slice(before);
    assert.deepEqual(message!.to, ['two@remote.example']);
    const drop = await messagesIn(r.relay.spool.layout.drop);
    assert.equal(drop.length, dropBefore + 1);
    const mixed = drop.find((t) => t.includes('Subject: mixed'));
    assert.match(mixed!, /^X-Sender: <sender@outside\.example>\r\nX-Receiver: <one@corp\.example>\r\nReceived: /);
    assert.doesNotMatch(mixed!, /two@remote\.example/);
  });

  it('keeps XCLIENT, XFORWARD and PROXY from changing who the client is', async () => {
    const { client } = await RawSmtp.open({ port, localAddress: '127.0.0.2' });
    try {
      assert.ok((await client.command('PROXY TCP4 127.0.0.1 127.0.0.1 1025 25')).code >= 500);
      await client.command('EHLO client.test');
      assert.ok((await client.command('XCLIENT ADDR=127.0.0.1')).code >= 500);
      assert.ok((await client.command('XFORWARD ADDR=127.0.0.1')).code >= 500);
      await client.command('MAIL FROM:<a@outside.example>');
      assert.equal((await client.command('RCPT TO:<x@remote.example>')).code, 550);
    } finally {
      await client.quit();
    }
  });
});

describe('inbound access: allowConnect, IPv6 and IPv4-mapped addresses', { timeout: 60_000 }, () => {
  let upstream: Upstream;

  before(async () => {
    upstream = await new Upstream().start();
  });
  after(async () => {
    await upstream.stop();
  });

  it('refuses clients outside allowConnect with 554 at connect and logs them', async () => {
    const r = await startLoggedRelay(upstream.address, { allowConnect: ['127.0.0.1/32'] });
    try {
      const port = portOf(r.relay);
      const refused = await RawSmtp.open({ port, localAddress: '127.0.0.2' });
      assert.equal(refused.greeting.code, 554);
      assert.match(refused.greeting.text, /^554 5\.7\.1 /);
      await refused.client.repliesUntilClosed();
      assert.ok(refused.client.isClosed, 'the connection is closed');
      const allowed = await RawSmtp.open({ port, localAddress: '127.0.0.1' });
      assert.equal(allowed.greeting.code, 220);
      await allowed.client.quit();
      assert.ok(r.logs.some((l) => l.message === 'connection refused' && l.client === '127.0.0.2' && l.level === 'warn'));
    } finally {
      await r.relay.stop();
    }
  });

  it('listens on ::1 too and lets it relay by default (::1/128); fails closed when allowRelay lists only 127.0.0.1', async (t) => {
    if (!(await ipv6LoopbackAvailable())) return t.skip('IPv6 loopback (::1) is not available on this machine');
    const open = await startLoggedRelay(upstream.address, { listen: ['127.0.0.1:0', '[::1]:0'] });
    try {
      assert.deepEqual(await rcptReplies(portOf(open.relay, '::1'), '::1', ['x@remote.example'], '::1'), [250]);
    } finally {
      await open.relay.stop();
    }
    const closed = await startLoggedRelay(upstream.address, { listen: ['127.0.0.1:0', '[::1]:0'], allowRelay: ['127.0.0.1/32'] });
    try {
      assert.deepEqual(await rcptReplies(portOf(closed.relay, '::1'), '::1', ['x@remote.example'], '::1'), [550]);
      assert.deepEqual(await rcptReplies(portOf(closed.relay, '127.0.0.1'), '127.0.0.1', ['x@remote.example']), [250]);
      assert.ok(closed.logs.some((l) => l.level === 'warn' && /::1 is not in allowRelay/.test(l.message)));
    } finally {
      await closed.relay.stop();
    }
  });

  for (const rule of ['127.0.0.1/32', '::ffff:127.0.0.1/128', '::ffff:127.0.0.1']) {
    it(`matches IPv4-mapped clients of an IPv6 socket against the rule ${rule}`, async () => {
      // An IPv6 socket bound to ::ffff:127.0.0.1 sees IPv4 clients as ::ffff:127.0.0.x, as a dual-stack listener does.
      const r = await startLoggedRelay(upstream.address, {
        listen: ['[::ffff:127.0.0.1]:0'],
        allowRelay: [rule],
        allowConnect: ['127.0.0.0/30'],
      });
      try {
        const port = r.relay.listening[0]!.port;
        assert.deepEqual(await rcptReplies(port, '127.0.0.1', ['x@remote.example']), [250]);
        assert.deepEqual(await rcptReplies(port, '127.0.0.2', ['x@remote.example']), [550]);
        const outside = await RawSmtp.open({ port, localAddress: '127.0.0.5' });
        assert.equal(outside.greeting.code, 554, 'outside allowConnect 127.0.0.0/30');
        outside.client.destroy();
      } finally {
        await r.relay.stop();
      }
    });
  }

  it('lets nobody relay by address with allowRelay "none"', async () => {
    const r = await startLoggedRelay(upstream.address, { allowRelay: ['none'], localDomains: ['corp.example'] });
    try {
      assert.deepEqual(await rcptReplies(portOf(r.relay), '127.0.0.1', ['x@remote.example', 'y@corp.example']), [550, 250]);
    } finally {
      await r.relay.stop();
    }
  });

  it('delivers nothing to Drop or Queue for a refused recipient', async () => {
    const r = await startLoggedRelay(upstream.address, { allowRelay: ['none'] });
    try {
      const { client } = await RawSmtp.open({ port: portOf(r.relay) });
      await client.command('EHLO c');
      await client.command('MAIL FROM:<a@b.example>');
      assert.equal((await client.command('RCPT TO:<x@remote.example>')).code, 550);
      assert.equal((await client.command('DATA')).code, 503, 'no recipient, no DATA');
      await client.quit();
      await eventually(async () => (await filesIn(r.relay.spool.layout.sortTemp)).length === 0, 2000);
      assert.deepEqual(await filesIn(r.relay.spool.layout.queue), []);
      assert.deepEqual(await filesIn(r.relay.spool.layout.drop), []);
    } finally {
      await r.relay.stop();
    }
  });
});
