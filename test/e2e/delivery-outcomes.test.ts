import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { sendMail } from '../helpers/client.js';
import { parseDsn } from '../helpers/dsn.js';
import { dropIntoQueue, eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream, type ReceivedMessage } from '../helpers/upstream.js';

const MESSAGE = 'From: app@example.com\r\nTo: list@example.net\r\nSubject: outcome\r\nMessage-ID: <outcome@example.com>\r\n\r\nbody\r\n';

function notices(upstream: Upstream): ReceivedMessage[] {
  return upstream.received.filter((m) => m.from === '');
}
function originals(upstream: Upstream): ReceivedMessage[] {
  return upstream.received.filter((m) => m.from !== '');
}
async function read(dir: string, name: string): Promise<string> {
  return fs.readFile(path.join(dir, name), 'utf8');
}

async function withRelay(settings: Record<string, unknown>, body: (relay: Relay, upstream: Upstream) => Promise<void>): Promise<void> {
  const upstream = await new Upstream().start();
  // Retries 200 ms apart: where a case waits for a retry, it is the retry that matters, not its length.
  const relay = await startRelay({ smartHost: upstream.address, settings: { retry: ['200ms'], pickupSettleTime: '200ms', ...settings } });
  try {
    await body(relay, upstream);
  } finally {
    await relay.stop();
    await upstream.stop();
  }
}

describe('delivery outcomes', () => {
  it('handles 250, 451 and 550 recipients of one message separately, without a second copy to anyone', async () => {
    await withRelay({}, async (relay, upstream) => {
      let soft = true;
      upstream.rcptScript = (rcpt) =>
        rcpt === 'hard@example.net' ? [550, '5.1.1 <hard@example.net>: user unknown'] : rcpt === 'soft@example.net' && soft ? [451, '4.2.0 mailbox busy'] : undefined;
      await sendMail({
        port: relayPort(relay),
        from: 'app@example.com',
        to: [],
        envelope: { from: 'app@example.com', to: ['ok@example.net', 'soft@example.net', 'hard@example.net'] },
        raw: MESSAGE,
      });
      const { queue, badmail } = relay.spool.layout;
      // First attempt: ok@ delivered, hard@ to Badmail with an NDR to the sender, soft@ kept in Queue alone.
      await eventually(() => originals(upstream).length === 1 && notices(upstream).length === 1, 10_000, 'delivery and NDR');
      assert.deepEqual(originals(upstream)[0]!.to, ['ok@example.net']);
      const softOnly = /^X-Sender: <app@example\.com>\r\nX-Receiver: <soft@example\.net>\r\nReceived: /;
      await eventually(async () => {
        const contents = await Promise.all((await filesIn(queue, '.eml')).map((n) => read(queue, n).catch(() => '')));
        return contents.length === 1 && softOnly.test(contents[0]!);
      }, 10_000, 'the queue file rewritten to hold soft@ alone');
      const [bad] = await filesIn(badmail, '.bad');
      assert.match(await read(badmail, bad!), /^X-Sender: <app@example\.com>\r\nX-Receiver: <hard@example\.net>\r\nReceived: /);
      const report = await read(badmail, bad!.replace(/\.bad$/, '.bdr'));
      assert.match(report, /<hard@example\.net>\s+550 5\.1\.1 <hard@example\.net>: user unknown/);
      assert.match(report, /Attempts: \d+|Non-delivery report: sent to <app@example\.com>/);
      assert.match(report, /Non-delivery report: sent to <app@example\.com>/);

      const ndr = parseDsn(notices(upstream)[0]!.data.toString());
      assert.deepEqual(notices(upstream)[0]!.to, ['app@example.com']);
      assert.equal(ndr.headers.get('subject'), 'Delivery Status Notification (Failure)');
      assert.equal(ndr.headers.get('from'), 'postmaster@relay.test');
      assert.match(ndr.readable, /Delivery to the following recipients failed\.\r\n\r\n {7}hard@example\.net\r\n/);
      assert.equal(ndr.perMessage.get('reporting-mta'), 'dns;relay.test');
      assert.equal(ndr.perRecipient.length, 1);
      assert.equal(ndr.perRecipient[0]!.get('final-recipient'), 'rfc822;hard@example.net');
      assert.equal(ndr.perRecipient[0]!.get('action'), 'failed');
      assert.equal(ndr.perRecipient[0]!.get('status'), '5.1.1');
      assert.equal(ndr.perRecipient[0]!.get('diagnostic-code'), 'smtp;550 5.1.1 <hard@example.net>: user unknown');
      assert.equal(ndr.returnedType, 'message/rfc822');
      assert.match(ndr.returned, /Subject: outcome\r\n/);

      // Later: soft@ is accepted; ok@ gets nothing more.
      soft = false;
      await eventually(() => originals(upstream).length === 2, 10_000, 'the deferred recipient delivered');
      assert.deepEqual(originals(upstream)[1]!.to, ['soft@example.net']);
      await eventually(async () => (await filesIn(queue)).length === 0, 5000, 'Queue to empty');
      assert.equal(upstream.received.filter((m) => m.to.includes('ok@example.net')).length, 1);
    });
  });

  it('gives up after `expire`, with an NDR naming the last reply', async () => {
    await withRelay({ expire: '1s', ndrCopyTo: ['postmaster@example.com'] }, async (relay, upstream) => {
      upstream.rcptScript = (rcpt) => (rcpt === 'slow@example.net' ? [452, '4.2.2 mailbox full'] : undefined);
      await dropIntoQueue(relay.spool.layout.queue, 'expiring.eml', 'app@example.com', ['slow@example.net'], MESSAGE);
      await eventually(() => notices(upstream).length === 1, 15_000, 'the expiry NDR');
      assert.deepEqual(notices(upstream)[0]!.to, ['app@example.com', 'postmaster@example.com']);
      const ndr = parseDsn(notices(upstream)[0]!.data.toString());
      assert.equal(ndr.perRecipient[0]!.get('status'), '4.2.2');
      assert.equal(ndr.perRecipient[0]!.get('diagnostic-code'), 'smtp;452 4.2.2 mailbox full');
      // The notice is queued before the move to Badmail, so it can arrive first.
      await eventually(async () => (await filesIn(relay.spool.layout.badmail, '.bdr')).includes('expiring.bdr'), 5000, 'the .bdr');
      const report = await read(relay.spool.layout.badmail, 'expiring.bdr');
      assert.match(report, /^Reason: expired: not delivered within 1 second\(s\)/m);
      assert.match(report, /^First attempt: /m);
      assert.match(report, /^Last attempt: /m);
      assert.match(report, /^Attempts: [2-9]/m);
      assert.equal(originals(upstream).length, 0);
    });
  });

  it('stops a mail loop by hop count without sending it on', async () => {
    await withRelay({ maxHopCount: 15 }, async (relay, upstream) => {
      const received = Array.from({ length: 16 }, (_, i) => `Received: from hop${i}.example by hop${i + 1}.example; Mon, 30 Nov 2026 00:00:00 +0000\r\n`).join('');
      await dropIntoQueue(relay.spool.layout.queue, 'loop.eml', 'app@example.com', ['x@example.net'], received + MESSAGE);
      await eventually(() => notices(upstream).length === 1, 10_000, 'the loop NDR');
      const ndr = parseDsn(notices(upstream)[0]!.data.toString());
      assert.match(ndr.readable, /forwarded more than the maximum allowed times\. This could indicate a mail loop\./);
      assert.equal(ndr.perRecipient[0]!.get('status'), '5.4.6');
      assert.equal(originals(upstream).length, 0);
      await eventually(async () => (await filesIn(relay.spool.layout.badmail, '.bdr')).includes('loop.bdr'), 5000, 'the .bdr');
      assert.match(await read(relay.spool.layout.badmail, 'loop.bdr'), /mail loop/);
    });
  });

  it('never sends an NDR about a message whose sender is <>', async () => {
    await withRelay({}, async (relay, upstream) => {
      upstream.rcptScript = () => [550, '5.1.1 no such user'];
      await dropIntoQueue(relay.spool.layout.queue, 'bounce.eml', '', ['gone@example.net'], MESSAGE);
      await eventually(async () => (await filesIn(relay.spool.layout.badmail, '.bdr')).length === 1, 10_000, 'Badmail');
      assert.match(await read(relay.spool.layout.badmail, 'bounce.bdr'), /Non-delivery report: not sent: .*null sender/);
      await relay.rescan();
      assert.equal(upstream.received.length, 0);
      assert.deepEqual(await filesIn(relay.spool.layout.queue), []);
    });
  });

  it('caps notifications per sender per hour', async () => {
    await withRelay({ ndrLimitPerHour: 2 }, async (relay, upstream) => {
      upstream.rcptScript = (rcpt) => (rcpt.startsWith('bad') ? [550, '5.1.1 unknown'] : undefined);
      for (let i = 0; i < 4; i++) await dropIntoQueue(relay.spool.layout.queue, `flood${i}.eml`, 'app@example.com', [`bad${i}@example.net`], MESSAGE);
      await eventually(async () => (await filesIn(relay.spool.layout.badmail, '.bdr')).length === 4, 10_000, 'four in Badmail');
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'the NDRs sent');
      assert.equal(notices(upstream).length, 2);
      const reports = await Promise.all((await filesIn(relay.spool.layout.badmail, '.bdr')).map((n) => read(relay.spool.layout.badmail, n)));
      assert.equal(reports.filter((r) => /not sent: more than 2 notifications/.test(r)).length, 2);
    });
  });

  it('warns the sender once when a message is delayed', async () => {
    await withRelay({ delayNotify: '500ms', expire: '1h' }, async (relay, upstream) => {
      let refuse = true;
      upstream.rcptScript = (rcpt) => (rcpt === 'later@example.net' && refuse ? [451, '4.3.0 try later'] : undefined);
      await dropIntoQueue(relay.spool.layout.queue, 'delayed.eml', 'app@example.com', ['later@example.net'], MESSAGE);
      await eventually(() => notices(upstream).length === 1, 15_000, 'the delay notice');
      const dsn = parseDsn(notices(upstream)[0]!.data.toString());
      assert.equal(dsn.headers.get('subject'), 'Delivery Status Notification (Delay)');
      assert.match(dsn.readable, /THIS IS A WARNING MESSAGE ONLY\./);
      assert.equal(dsn.perRecipient[0]!.get('action'), 'delayed');
      assert.equal(dsn.perRecipient[0]!.get('status'), '4.3.0');
      assert.match(dsn.perRecipient[0]!.get('will-retry-until') ?? '', /^\w{3}, \d{1,2} \w{3} \d{4} /);
      // More failed attempts follow, but no second warning.
      await eventually(async () => /^Attempts: [3-9]/m.test(await read(relay.spool.layout.queue, 'delayed.rtr')), 15_000, 'more attempts');
      assert.equal(notices(upstream).length, 1);
      assert.match(await read(relay.spool.layout.queue, 'delayed.rtr'), /^Delay-Notified: yes\r$/m);
      refuse = false;
      await eventually(() => originals(upstream).length === 1, 10_000, 'delivered in the end');
    });
  });

  it('splits more than 100 recipients across transactions', async () => {
    await withRelay({}, async (relay, upstream) => {
      const recipients = Array.from({ length: 150 }, (_, i) => `r${i}@example.net`);
      await dropIntoQueue(relay.spool.layout.queue, 'many.eml', 'app@example.com', recipients, MESSAGE);
      await upstream.waitFor(2);
      assert.deepEqual(upstream.received.map((m) => m.to.length), [100, 50]);
      assert.deepEqual(upstream.received.flatMap((m) => m.to).sort(), [...recipients].sort());
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 5000, 'Queue to empty');
    });
  });

  it('retries after the smart host drops the connection at the end of data', async () => {
    await withRelay({}, async (relay, upstream) => {
      let drops = 1;
      upstream.dataScript = () => (drops-- > 0 ? 'drop' : undefined);
      await sendMail({ port: relayPort(relay), from: 'app@example.com', to: ['x@example.net'], raw: MESSAGE });
      await upstream.waitFor(1, 15_000);
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 5000, 'Queue to empty');
    });
  });

  it('resends a .bad file moved into Pickup to the failed recipients only', async () => {
    await withRelay({}, async (relay, upstream) => {
      let refuse = true;
      upstream.rcptScript = (rcpt) => (rcpt === 'hard@example.net' && refuse ? [550, '5.1.1 unknown'] : undefined);
      await sendMail({
        port: relayPort(relay),
        from: 'app@example.com',
        to: [],
        envelope: { from: 'app@example.com', to: ['ok@example.net', 'hard@example.net'] },
        raw: MESSAGE,
      });
      const { badmail, pickup } = relay.spool.layout;
      await eventually(async () => (await filesIn(badmail, '.bad')).length === 1, 10_000, 'the .bad file');
      await eventually(() => originals(upstream).length === 1 && notices(upstream).length === 1, 10_000, 'delivery and NDR');
      refuse = false; // the mailbox was created
      const [bad] = await filesIn(badmail, '.bad');
      await fs.rename(path.join(badmail, bad!), path.join(pickup, bad!));
      await eventually(() => originals(upstream).length === 2, 15_000, 'the replay');
      assert.deepEqual(originals(upstream)[1]!.to, ['hard@example.net']);
      assert.equal(upstream.received.filter((m) => m.to.includes('ok@example.net')).length, 1, 'ok@ got one copy only');
    });
  });

  it('sends a Badmail message again when an operator moves it into Queue', async () => {
    await withRelay({}, async (relay, upstream) => {
      upstream.rcptScript = (rcpt) => (rcpt === 'x@example.net' ? [550, '5.7.1 relaying denied'] : undefined);
      await sendMail({ port: relayPort(relay), from: 'app@example.com', to: ['x@example.net'], raw: MESSAGE });
      const { badmail, queue } = relay.spool.layout;
      await eventually(async () => (await filesIn(badmail, '.bad')).length === 1, 10_000, 'Badmail');
      upstream.rcptScript = () => undefined; // the smart host's configuration got fixed
      await eventually(() => notices(upstream).length === 1, 10_000, 'the NDR');
      // An operator replays it later, not within the last milliseconds of the attempt that sent it to Badmail: a
      // file moved in under the name of a message still in flight is only found by the next rescan.
      await eventually(() => relay.scheduler.inFlightNames().length === 0, 10_000, 'the attempts to settle');
      const [bad] = await filesIn(badmail, '.bad');
      await fs.rename(path.join(badmail, bad!), path.join(queue, bad!.replace(/\.bad$/, '.eml')));
      await eventually(() => originals(upstream).length === 1, 10_000, 'the replayed message');
      assert.deepEqual(originals(upstream)[0]!.to, ['x@example.net']);
      assert.match(originals(upstream)[0]!.data.toString(), /Subject: outcome/);
    });
  });
});
