// SMTP as RFC 5321/3461/6152/6531 and IIS's clients expect it, through real sessions: a byte-exact client talking
// to the real relay, and a real upstream (smtp-server) offering or hiding DSN, 8BITMIME and SMTPUTF8.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { SMTPServerOptions } from 'smtp-server';
import type { Relay } from '../../src/relay.js';
import { RawSmtp, type Reply } from '../helpers/raw-smtp.js';
import { dropIntoQueue, eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { RawSink } from '../helpers/raw-sink.js';
import { Upstream, type ReceivedMessage } from '../helpers/upstream.js';
import { parseMime, type MimeReport } from '../helpers/mime.js';

async function withRelay(
  upstreamOptions: Partial<SMTPServerOptions>,
  settings: Record<string, unknown>,
  body: (relay: Relay, upstream: Upstream) => Promise<void>,
): Promise<void> {
  const upstream = await new Upstream(upstreamOptions).start();
  const relay = await startRelay({ smartHost: upstream.address, settings: { retry: ['1s'], ...settings } });
  try {
    await body(relay, upstream);
  } finally {
    await relay.stop();
    await upstream.stop();
  }
}

/** One SMTP transaction, command by command; returns every reply so far and stops at the first refusal. */
async function transaction(relay: Relay, commands: string[], message?: string | Buffer): Promise<Reply[]> {
  const { client } = await RawSmtp.open({ port: relayPort(relay) });
  try {
    const replies: Reply[] = [await client.command('EHLO client.example')];
    for (const command of commands) {
      const reply = await client.command(command);
      replies.push(reply);
      if (reply.code >= 400) return replies;
    }
    if (message !== undefined) {
      const data = await client.command('DATA');
      replies.push(data);
      if (data.code !== 354) return replies;
      await client.write(Buffer.concat([Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8'), Buffer.from('.\r\n')]));
      replies.push(await client.reply());
    }
    return replies;
  } finally {
    await client.quit();
  }
}

function notices(upstream: Upstream): ReceivedMessage[] {
  return upstream.received.filter((m) => m.from === '');
}
function originals(upstream: Upstream): ReceivedMessage[] {
  return upstream.received.filter((m) => m.from !== '');
}
async function notice(upstream: Upstream, what: string): Promise<{ message: ReceivedMessage; report: MimeReport }> {
  await eventually(() => notices(upstream).length >= 1, 15_000, what);
  const message = notices(upstream)[0]!;
  return { message, report: await parseMime(message.data) };
}

const MESSAGE = 'From: app@example.com\r\nTo: x@example.net\r\nSubject: conformance\r\nMessage-ID: <c@example.com>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nbody\r\n';

describe('SMTP conformance: the inbound side', () => {
  it('offers DSN, ENHANCEDSTATUSCODES, 8BITMIME and SMTPUTF8; answers EXPN 502, unknown parameters 555, UTF-8 without SMTPUTF8 553', async () => {
    await withRelay({}, {}, async (relay) => {
      const { client } = await RawSmtp.open({ port: relayPort(relay) });
      try {
        const ehlo = await client.command('EHLO client.example');
        for (const extension of ['DSN', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8', 'PIPELINING']) {
          assert.ok(ehlo.lines.includes(extension), `EHLO offers ${extension}: ${ehlo.text}`);
        }
        assert.equal((await client.command('EXPN staff')).text, '502 5.5.1 EXPN is not supported');
        assert.equal((await client.command('MAIL FROM:<app@example.com> XYZ=1')).text, '555 5.5.4 Unsupported parameter XYZ');
        assert.equal((await client.command('MAIL FROM:<app@example.com> BODY=8BITMIME RET=HDRS ENVID=QQ314159')).text, '250 2.1.0 Accepted');
        assert.equal((await client.command('RCPT TO:<x@example.net> XYZ=1')).text, '555 5.5.4 Unsupported parameter XYZ');
        const bogus = await client.command('RCPT TO:<x@example.net> NOTIFY=BOGUS');
        assert.match(bogus.text, /^501 5\.5\.4 /, 'a bad NOTIFY value is refused, never 250');
        const utf8 = await client.command('RCPT TO:<j\u00f6rg@example.net>');
        assert.match(utf8.text, /^553 5\.6\.7 /);
        assert.equal((await client.command('RCPT TO:<x@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@example.net')).text, '250 2.1.5 Accepted');
        // mailroot's own refusals keep their own enhanced code, one only.
        assert.equal((await client.command('RCPT TO:<postmaster>')).text, '550 5.1.3 <postmaster>: a recipient needs a domain');
      } finally {
        await client.quit();
      }
    });
  });

  it('keeps the DSN, BODY and SMTPUTF8 parameters on the .eml envelope lines, and writes UTF8SMTP in Received:', async () => {
    const relay = await startRelay({ smartHost: '127.0.0.1:9', settings: { retry: ['1h'] } });
    try {
      const replies = await transaction(
        relay,
        [
          'MAIL FROM:<app@example.com> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B314159',
          'RCPT TO:<j\u00f6rg@example.net> NOTIFY=SUCCESS,DELAY ORCPT=utf-8;j\\x{00F6}rg@example.net',
          'RCPT TO:<"john smith"@example.net> NOTIFY=NEVER',
          'RCPT TO:<plain@example.net>',
        ],
        MESSAGE.replace('body', 'k\u00e4se'),
      );
      assert.match(replies.at(-1)!.text, /^250 2\.0\.0 Ok: queued as /);
      const [name] = await filesIn(relay.spool.layout.queue, '.eml');
      const file = await fs.readFile(path.join(relay.spool.layout.queue, name!), 'utf8');
      assert.equal(
        file.slice(0, file.indexOf('Received:')),
        'X-Sender: <app@example.com> RET=HDRS; ENVID=QQ+2B314159; BODY=8BITMIME; SMTPUTF8\r\n' +
          'X-Receiver: <j\u00f6rg@example.net> NOTIFY=SUCCESS,DELAY; ORCPT=utf-8;j\\x{00F6}rg@example.net\r\n' +
          'X-Receiver: <"john smith"@example.net> NOTIFY=NEVER\r\n' +
          'X-Receiver: <plain@example.net>\r\n',
      );
      assert.match(file, /^\tby relay\.test \(mailroot\) with UTF8SMTP id /m);
      // The spool reads them back: what delivery and notifications use.
      const read = await relay.spool.readQueuedMessage(name!);
      assert.ok(read.ok);
      assert.deepEqual(read.value.envelope.params, {
        ret: 'HDRS',
        envid: 'QQ+314159',
        body8bit: true,
        smtputf8: true,
        recipients: {
          'j\u00f6rg@example.net': { notify: ['SUCCESS', 'DELAY'], orcpt: 'utf-8;j\\x{00F6}rg@example.net' },
          '"john smith"@example.net': { notify: [] },
        },
      });
    } finally {
      await relay.stop();
    }
  });

  it('adds Message-ID: and Date: to mail from relay clients that lacks them (addMissingHeaders), and nothing else', async () => {
    await withRelay({}, {}, async (relay, upstream) => {
      await transaction(relay, ['MAIL FROM:<app@example.com>', 'RCPT TO:<x@example.net>'], 'Subject: bare\r\n\r\nno id here\r\n');
      await transaction(relay, ['MAIL FROM:<app@example.com>', 'RCPT TO:<x@example.net>'], MESSAGE);
      await upstream.waitFor(2);
      const bare = upstream.received.find((m) => m.data.includes('Subject: bare'))!.data.toString();
      assert.match(bare, /\r\nSubject: bare\r\nMessage-ID: <[^>]+@relay\.test>\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n\r\nno id here\r\n$/);
      const complete = upstream.received.find((m) => m.data.includes('Subject: conformance'))!.data.toString();
      assert.equal(complete.match(/^Message-ID:/gim)?.length, 1);
      assert.equal(complete.match(/^Date:/gim)?.length, 1);
    });
    await withRelay({}, { addMissingHeaders: false }, async (relay, upstream) => {
      await transaction(relay, ['MAIL FROM:<app@example.com>', 'RCPT TO:<x@example.net>'], 'Subject: bare\r\n\r\nno id here\r\n');
      const [message] = await upstream.waitFor(1);
      assert.doesNotMatch(message!.data.toString(), /^(Message-ID|Date):/im);
    });
  });

  it('relays a quoted local part exactly as the client wrote it', async () => {
    const sink = await new RawSink().start(); // smtp-server as the upstream would refuse it, as it did in mailroot
    const relay = await startRelay({ smartHost: sink.address });
    try {
      const replies = await transaction(relay, ['MAIL FROM:<app@example.com>', 'RCPT TO:<"john smith"@example.net>'], MESSAGE);
      assert.equal(replies[2]!.text, '250 2.1.5 Accepted');
      await eventually(() => sink.commands.some((c) => c.startsWith('RCPT TO:')), 10_000, 'the RCPT upstream');
      assert.ok(sink.commands.includes('RCPT TO:<"john smith"@example.net>'), sink.commands.join(' | '));
    } finally {
      await relay.stop();
      await sink.stop();
    }
  });
});

describe('SMTP conformance: DSN end to end', () => {
  it('passes RET, ENVID, NOTIFY and ORCPT on to a smart host that offers DSN (a .NET SmtpClient\'s NOTIFY= included)', async () => {
    await withRelay({ hideDSN: false }, {}, async (relay, upstream) => {
      // What System.Net.Mail.SmtpClient sends for DeliveryNotificationOptions.OnSuccess | OnFailure once DSN is offered.
      await transaction(relay, ['MAIL FROM:<app@example.com>', 'RCPT TO:<net@example.net> NOTIFY=SUCCESS,FAILURE'], MESSAGE);
      await transaction(
        relay,
        ['MAIL FROM:<app@example.com> RET=HDRS ENVID=QQ314159', 'RCPT TO:<a@example.net> NOTIFY=NEVER', 'RCPT TO:<b@example.net> ORCPT=rfc822;orig@example.org'],
        MESSAGE,
      );
      await upstream.waitFor(3);
      const net = upstream.received.find((m) => m.to.includes('net@example.net'))!;
      assert.deepEqual(net.rcptArgs, [{ NOTIFY: 'SUCCESS,FAILURE' }]);
      const a = upstream.received.find((m) => m.to.includes('a@example.net'))!;
      const b = upstream.received.find((m) => m.to.includes('b@example.net'))!;
      assert.deepEqual(a.to, ['a@example.net'], 'recipients with different DSN requests go in separate transactions');
      assert.deepEqual(a.mailArgs, { RET: 'HDRS', ENVID: 'QQ314159' });
      assert.deepEqual(a.rcptArgs, [{ NOTIFY: 'NEVER' }]);
      assert.deepEqual(b.mailArgs, { RET: 'HDRS', ENVID: 'QQ314159' });
      assert.deepEqual(b.rcptArgs, [{ ORCPT: 'rfc822;orig@example.org' }]);
      assert.equal(notices(upstream).length, 0, 'the next hop notifies; mailroot does not');
    });
  });

  it('sends a "relayed" notice for NOTIFY=SUCCESS when the smart host does not offer DSN', async () => {
    await withRelay({}, {}, async (relay, upstream) => {
      await transaction(
        relay,
        ['MAIL FROM:<app@example.com> ENVID=QQ314159', 'RCPT TO:<net@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig@example.org', 'RCPT TO:<quiet@example.net>'],
        MESSAGE,
      );
      const { message, report } = await notice(upstream, 'the relayed notice');
      assert.deepEqual(message.to, ['app@example.com']);
      assert.equal(report.subject, 'Delivery Status Notification (Relay)');
      assert.equal(report.perMessage.get('original-envelope-id'), 'QQ314159');
      assert.equal(report.perRecipient.length, 1, 'only the recipient that asked');
      const r = report.perRecipient[0]!;
      assert.equal(r.get('final-recipient'), 'rfc822;net@example.net');
      assert.equal(r.get('original-recipient'), 'rfc822;orig@example.org');
      assert.equal(r.get('action'), 'relayed');
      assert.equal(r.get('status'), '2.0.0');
      await eventually(() => originals(upstream).length === 2, 10_000, 'both recipients delivered');
      for (const original of originals(upstream)) {
        assert.deepEqual(original.rcptArgs, [{}], 'nothing DSN-ish sent to a host that does not offer it');
        assert.equal(original.mailArgs.ENVID, undefined);
      }
    });
  });

  it('honours NOTIFY=NEVER, NOTIFY without FAILURE and RET=HDRS in its own failure notices', async () => {
    await withRelay({}, {}, async (relay, upstream) => {
      upstream.rcptScript = (rcpt) => (rcpt.startsWith('gone') ? [550, '4.2.2 <' + rcpt + '>: odd class'] : undefined);
      await transaction(
        relay,
        [
          'MAIL FROM:<app@example.com> RET=HDRS ENVID=QQ314159',
          'RCPT TO:<gone-never@example.net> NOTIFY=NEVER',
          'RCPT TO:<gone-delay@example.net> NOTIFY=DELAY',
          'RCPT TO:<gone-fail@example.net> NOTIFY=FAILURE ORCPT=rfc822;fail@example.org',
          'RCPT TO:<ok@example.net>',
        ],
        MESSAGE,
      );
      const { report } = await notice(upstream, 'the failure notice');
      assert.equal(report.subject, 'Delivery Status Notification (Failure)');
      assert.equal(report.returnPath, undefined, 'no Return-Path: in a generated notice');
      assert.deepEqual(report.perRecipient.map((r) => r.get('final-recipient')), ['rfc822;gone-fail@example.net']);
      const r = report.perRecipient[0]!;
      assert.equal(r.get('status'), '5.2.2', 'the class follows the reply: 550 4.2.2 is 5.2.2');
      assert.equal(r.get('remote-mta'), 'dns;127.0.0.1');
      assert.equal(r.get('diagnostic-code'), 'smtp;550 4.2.2 <gone-fail@example.net>: odd class');
      assert.equal(r.get('original-recipient'), 'rfc822;fail@example.org');
      assert.equal(report.perMessage.get('original-envelope-id'), 'QQ314159');
      assert.equal(report.returnedType, 'text/rfc822-headers', 'RET=HDRS: headers only');
      assert.match(report.returned, /Subject: conformance/);
      assert.doesNotMatch(report.returned, /body/);
      await eventually(async () => (await filesIn(relay.spool.layout.badmail, '.bdr')).length === 1, 10_000, 'the .bdr');
      assert.equal(notices(upstream).length, 1);
    });
  });
});

describe('SMTP conformance: notices for local reasons', () => {
  it('gives a mail loop a local diagnostic type and no Remote-MTA', async () => {
    await withRelay({}, { maxHopCount: 3 }, async (relay, upstream) => {
      const hops = Array.from({ length: 4 }, (_, i) => `Received: from hop${i}.example by hop${i + 1}.example; Mon, 30 Nov 2026 00:00:00 +0000\r\n`).join('');
      await dropIntoQueue(relay.spool.layout.queue, 'loop.eml', 'app@example.com', ['x@example.net'], hops + MESSAGE);
      const { report } = await notice(upstream, 'the loop notice');
      const r = report.perRecipient[0]!;
      assert.equal(r.get('status'), '5.4.6');
      assert.match(r.get('diagnostic-code') ?? '', /^X-mailroot;554 5\.4\.6 Hop count exceeded/);
      assert.equal(r.get('remote-mta'), undefined);
    });
  });

  it('returns only the headers with a delay notice, and none for NOTIFY without DELAY', async () => {
    await withRelay({}, { delayNotify: '300ms', retry: ['200ms'], expire: '1h' }, async (relay, upstream) => {
      upstream.rcptScript = (rcpt) => (rcpt !== 'app@example.com' ? [451, '4.3.0 try later'] : undefined);
      await transaction(relay, ['MAIL FROM:<app@example.com>', 'RCPT TO:<later@example.net>', 'RCPT TO:<silent@example.net> NOTIFY=FAILURE'], MESSAGE);
      const { report } = await notice(upstream, 'the delay notice');
      assert.equal(report.subject, 'Delivery Status Notification (Delay)');
      assert.deepEqual(report.perRecipient.map((r) => r.get('final-recipient')), ['rfc822;later@example.net']);
      assert.equal(report.perRecipient[0]!.get('action'), 'delayed');
      assert.equal(report.returnedType, 'text/rfc822-headers');
      assert.match(report.returned, /Subject: conformance/);
      assert.doesNotMatch(report.returned, /body/);
    });
  });
});

describe('SMTP conformance: 8-bit and UTF-8 mail', () => {
  const EIGHT_BIT = Buffer.from('From: app@example.com\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nk\u00e4se\r\n', 'utf8');

  it('passes BODY=8BITMIME on to a smart host that offers it', async () => {
    await withRelay({}, {}, async (relay, upstream) => {
      await transaction(relay, ['MAIL FROM:<app@example.com> BODY=8BITMIME', 'RCPT TO:<x@example.net>'], EIGHT_BIT);
      const [message] = await upstream.waitFor(1);
      assert.equal(message!.mailArgs.BODY, '8BITMIME');
      assert.ok(message!.data.includes(Buffer.from('k\u00e4se', 'utf8')));
    });
  });

  it('returns 8-bit mail to its sender when the smart host lacks 8BITMIME (5.6.3); sends 7-bit mail declared 8BITMIME', async () => {
    await withRelay({ hide8BITMIME: true }, {}, async (relay, upstream) => {
      await transaction(relay, ['MAIL FROM:<app@example.com> BODY=8BITMIME', 'RCPT TO:<ascii@example.net>'], MESSAGE);
      await upstream.waitFor(1);
      await transaction(relay, ['MAIL FROM:<app@example.com> BODY=8BITMIME', 'RCPT TO:<x@example.net>'], EIGHT_BIT);
      const { message, report } = await notice(upstream, 'the 8-bit return');
      const r = report.perRecipient[0]!;
      assert.equal(r.get('final-recipient'), 'rfc822;x@example.net');
      assert.equal(r.get('status'), '5.6.3');
      assert.match(r.get('diagnostic-code') ?? '', /^X-mailroot;5\.6\.3 .*8BITMIME/);
      assert.equal(r.get('remote-mta'), undefined, 'a local reason names no remote MTA');
      // This smart host would refuse the 8-bit original inside the notice too: the notice returns its headers.
      assert.equal(report.returnedType, 'text/rfc822-headers');
      assert.match(report.returned, /Subject: 8bit/);
      assert.equal(message.mailArgs.BODY, undefined);
      assert.deepEqual(originals(upstream).map((m) => m.to), [['ascii@example.net']]);
      assert.equal(originals(upstream)[0]!.mailArgs.BODY, undefined);
    });
  });

  it('returns an 8-bit original labelled 8bit, the notice sent with BODY=8BITMIME, when the smart host takes 8-bit', async () => {
    await withRelay({}, {}, async (relay, upstream) => {
      upstream.rcptScript = (rcpt) => (rcpt === 'x@example.net' ? [550, '5.1.1 unknown'] : undefined);
      await transaction(relay, ['MAIL FROM:<app@example.com> BODY=8BITMIME', 'RCPT TO:<x@example.net>'], EIGHT_BIT);
      const { message, report } = await notice(upstream, 'the failure notice');
      assert.equal(report.returnedType, 'message/rfc822');
      assert.equal(report.returnedEncoding, '8bit');
      assert.match(report.returned, /k\u00e4se/);
      assert.equal(message.mailArgs.BODY, '8BITMIME');
    });
  });

  it('passes SMTPUTF8 on, and returns a UTF-8 message (RFC 6533 notice) when the smart host lacks SMTPUTF8', async () => {
    await withRelay({}, {}, async (relay, upstream) => {
      await transaction(relay, ['MAIL FROM:<app@example.com> SMTPUTF8', 'RCPT TO:<j\u00f6rg@example.net>'], MESSAGE);
      const [message] = await upstream.waitFor(1);
      assert.equal(message!.mailArgs.SMTPUTF8, true);
      assert.deepEqual(message!.to, ['j\u00f6rg@example.net']);
    });
    await withRelay({ hideSMTPUTF8: true }, {}, async (relay, upstream) => {
      await transaction(relay, ['MAIL FROM:<app@example.com> SMTPUTF8', 'RCPT TO:<j\u00f6rg@example.net>'], MESSAGE);
      const { report } = await notice(upstream, 'the SMTPUTF8 return');
      assert.equal(report.reportType, 'global-delivery-status');
      assert.equal(report.statusType, 'message/global-delivery-status');
      const r = report.perRecipient[0]!;
      assert.equal(r.get('final-recipient'), 'utf-8;j\u00f6rg@example.net');
      assert.equal(r.get('status'), '5.6.7');
      assert.equal(originals(upstream).length, 0);
    });
  });
});
