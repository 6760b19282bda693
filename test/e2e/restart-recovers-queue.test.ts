import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sendMail } from '../helpers/client.js';
import { dropIntoQueue, eventually, filesIn, relayPort, startRelay, SteppedClock, tempMailroot } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

describe('restart and hand-made queue files', () => {
  it('delivers what was queued before a restart', async () => {
    const upstream = await new Upstream().start();
    const port = upstream.port;
    await upstream.stop();
    const mailroot = await tempMailroot();
    const first = await startRelay({ mailroot, smartHost: `127.0.0.1:${port}`, settings: { retry: ['300ms'] } });
    for (let i = 0; i < 3; i++) await sendMail({ port: relayPort(first), from: 'a@example.com', to: [`b${i}@example.net`] });
    await first.stop();
    assert.equal((await filesIn(path.join(mailroot, 'Queue'), '.eml')).length, 3);

    // The new relay reads the schedule from the .rtr files (if the first one got to write them) and delivers
    // each message when it comes due.
    await upstream.start(port);
    const second = await startRelay({ mailroot, smartHost: upstream.address, settings: { retry: ['300ms'] } });
    try {
      await upstream.waitFor(3);
      await eventually(async () => (await filesIn(path.join(mailroot, 'Queue'))).length === 0, 10_000, 'Queue to empty');
    } finally {
      await second.stop();
      await upstream.stop();
    }
  });

  it('at start-up, a message with an .rtr waits for its Next-Attempt; one without goes at once', async () => {
    const upstream = await new Upstream().start();
    const mailroot = await tempMailroot();
    const queue = path.join(mailroot, 'Queue');
    await fs.mkdir(queue, { recursive: true });
    const body = (subject: string) => `From: a@example.com\r\nTo: b@example.net\r\nSubject: ${subject}\r\n\r\nbody\r\n`;
    await dropIntoQueue(queue, '20261130T000000000Z-0001-aaaaaaaaaa.eml', 'a@example.com', ['b@example.net'], body('waits'));
    await dropIntoQueue(queue, '20261130T000000000Z-0002-bbbbbbbbbb.eml', 'a@example.com', ['b@example.net'], body('goes'));
    const now = Date.now();
    const state =
      `First-Queued: ${new Date(now - 60_000).toISOString()}\r\nFirst-Attempt: ${new Date(now - 60_000).toISOString()}\r\n` +
      `Attempts: 1\r\nLast-Attempt: ${new Date(now - 60_000).toISOString()}\r\nNext-Attempt: ${new Date(now + 3_600_000).toISOString()}\r\n` +
      'Host-Deferred: no\r\nDelay-Notified: no\r\nLast-Reply: 451 4.3.0 try again later\r\n';
    const rtr = path.join(queue, '20261130T000000000Z-0001-aaaaaaaaaa.rtr');
    await fs.writeFile(rtr, state);
    // An hour ahead is within the longest retry interval (2 h): waited for. (Beyond it, the wait is capped.)
    const clock = new SteppedClock();
    const relay = await startRelay({ mailroot, smartHost: upstream.address, settings: { retry: ['1s', '2h'] }, clock });
    try {
      const [message] = await upstream.waitFor(1);
      assert.match(message!.data.toString(), /Subject: goes/);
      await eventually(async () => (await filesIn(queue, '.eml')).length === 1 && relay.scheduler.inFlight === 0, 10_000, 'the other message settled');
      // A listing finds it again, and time jumps to a minute before its Next-Attempt: nothing is attempted.
      await relay.rescan();
      clock.advance(now + 3_600_000 - 60_000 - clock.now());
      assert.equal(relay.scheduler.inFlight, 0, 'nothing attempted before the Next-Attempt');
      assert.equal(upstream.received.length, 1, 'the message with a future Next-Attempt is not sent');
      assert.equal(await fs.readFile(rtr, 'utf8'), state, 'its .rtr is left as it was');
      assert.deepEqual(await filesIn(queue), ['20261130T000000000Z-0001-aaaaaaaaaa.eml', '20261130T000000000Z-0001-aaaaaaaaaa.rtr']);
      // At its Next-Attempt it is attempted (the timer due on the jump starts it at once).
      clock.advance(60_000);
      assert.equal(relay.scheduler.inFlight, 1, 'attempted at its Next-Attempt');
      await eventually(() => relay.scheduler.inFlight === 0, 20_000, 'that attempt to end');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('delivers a file an operator moved into Queue, with its envelope and bytes as written', async () => {
    const upstream = await new Upstream().start();
    const mailroot = await tempMailroot();
    const relay = await startRelay({ mailroot, smartHost: upstream.address });
    try {
      const outside = path.join(mailroot, 'hand-made.eml');
      const body = 'From: ops@example.com\r\nTo: x@example.net\r\nSubject: by hand\r\n\r\nmoved in by an operator\r\n';
      await fs.writeFile(outside, `x-sender: ops@example.com\r\nX-Receiver: "Someone" <y@example.net>\r\n${body}`);
      await fs.rename(outside, path.join(relay.spool.layout.queue, 'hand-made.eml'));
      const [message] = await upstream.waitFor(1);
      assert.equal(message!.from, 'ops@example.com');
      assert.deepEqual(message!.to, ['y@example.net']);
      assert.equal(message!.data.toString(), body);
      await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue to empty');
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('cleans SortTemp, keeps differently-cased folders, and refuses a second relay on the same mailroot', async () => {
    const upstream = await new Upstream().start();
    const mailroot = await tempMailroot();
    await fs.mkdir(path.join(mailroot, 'BadMail'));
    await fs.mkdir(path.join(mailroot, 'SortTemp'));
    await fs.writeFile(path.join(mailroot, 'SortTemp', 'leftover.accept.tmp'), 'X-Sender: <a@b>\r\n');
    const relay = await startRelay({ mailroot, smartHost: upstream.address });
    try {
      assert.deepEqual(await fs.readdir(path.join(mailroot, 'SortTemp')), []);
      assert.deepEqual((await fs.readdir(mailroot)).filter((n) => n.toLowerCase() === 'badmail'), ['BadMail']);
      assert.equal(relay.spool.layout.badmail, path.join(mailroot, 'BadMail'));
      await assert.rejects(startRelay({ mailroot, smartHost: upstream.address }), /in use by (?:process|another process)/);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });

  it('moves a message the smart host refuses with 5xx to Badmail with a reason file', async () => {
    const upstream = await new Upstream().start();
    upstream.dataScript = (m) => (m.from === '' ? undefined : [554, '5.6.0 content rejected']); // the NDR itself goes through
    const relay = await startRelay({ smartHost: upstream.address });
    try {
      await sendMail({ port: relayPort(relay), from: 'a@example.com', to: ['b@example.net'] });
      const badmail = relay.spool.layout.badmail;
      await eventually(async () => (await filesIn(badmail, '.bdr')).length === 1, 10_000, 'a .bdr in Badmail');
      const [bad] = await filesIn(badmail, '.bad');
      const [bdr] = await filesIn(badmail, '.bdr');
      assert.equal(bad!.replace(/\.bad$/, ''), bdr!.replace(/\.bdr$/, ''));
      assert.match(await fs.readFile(path.join(badmail, bad!), 'latin1'), /^X-Sender: <a@example\.com>\r\nX-Receiver: <b@example\.net>\r\n/);
      const reason = await fs.readFile(path.join(badmail, bdr!), 'utf8');
      assert.match(reason, /<b@example\.net>\s+554 5\.6\.0 content rejected/);
      assert.deepEqual(await filesIn(relay.spool.layout.queue), []);
    } finally {
      await relay.stop();
      await upstream.stop();
    }
  });
});
