// Any file mailroot wrote (a Queue .eml, a Badmail .bad) moved into Pickup is sent again byte for byte under this
// hop's Received: line, whatever pickupDotStuffed says: no dot removed, no header removed, same envelope. What
// marks such a file can be forged, so the NUL guard still applies and the trace line is always added.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { parseEnvelopeHead } from '../../src/spool/eml-format.js';
import { sendMail } from '../helpers/client.js';
import { afterPickupReceived, dropFile, fixture } from '../helpers/pickup.js';
import { eventually, filesIn, relayPort, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

/** Lines a dot-unstuffing or header-adding step would change: leading dots, a lone dot, a Bcc:, no Message-ID. */
function trickyMessage(tag: string): string {
  return (
    `From: a@example.com\r\nTo: b@example.net\r\nBcc: secret@example.org\r\nSubject: round trip ${tag}\r\n\r\n` +
    '.leading dot\r\n..two dots\r\n.\r\nX-Sender: not an envelope line\r\nlast line\r\n'
  );
}

function messagePart(file: Buffer): Buffer {
  const head = parseEnvelopeHead(file, true);
  assert.ok(head !== 'need-more' && head.ok, 'a file with envelope lines');
  return file.subarray(head.value.bodyOffset);
}

for (const dotStuffed of [true, false]) {
  describe(`Pickup round trip of mailroot's own files (pickupDotStuffed ${dotStuffed})`, () => {
    let upstream: Upstream;
    let relay: Relay;

    before(async () => {
      upstream = await new Upstream().start();
      relay = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '100ms', pickupDotStuffed: String(dotStuffed), addMissingHeaders: false } });
    });
    after(async () => {
      await relay.stop();
      await upstream.stop();
    });

    it('a Badmail .bad file moved into Pickup reaches the upstream byte-identical', async () => {
      let refuse = true;
      upstream.rcptScript = (rcpt) => (rcpt === 'bounce@example.net' && refuse ? [550, '5.1.1 no such user'] : undefined);
      const raw = trickyMessage('badmail');
      await sendMail({ port: relayPort(relay), from: 'a@example.com', to: [], envelope: { from: 'a@example.com', to: ['bounce@example.net'] }, raw });
      const badmail = relay.spool.layout.badmail;
      await eventually(async () => (await filesIn(badmail, '.bad')).length === 1, 10_000, 'the .bad file');
      const [bad] = await filesIn(badmail, '.bad');
      const bytes = await fs.readFile(path.join(badmail, bad!));
      assert.ok(messagePart(bytes).includes(raw), 'the .bad file holds the message as sent');

      refuse = false;
      const before = upstream.received.length;
      await fs.rename(path.join(badmail, bad!), path.join(relay.spool.layout.pickup, bad!));
      const [message] = (await upstream.waitFor(before + 1)).slice(before);
      assert.equal(message!.from, 'a@example.com');
      assert.deepEqual(message!.to, ['bounce@example.net']);
      assert.equal(afterPickupReceived(message!.data), messagePart(bytes).toString('utf8'), 'sent exactly as the first time, under a Received: line');
      await eventually(async () => (await filesIn(relay.spool.layout.pickup)).length === 0, 10_000, 'Pickup to empty');
    });

    it('Queue files (from SMTP and from Pickup) moved into Pickup are queued again byte-identical, then sent so', async () => {
      await upstream.stop(); // keep everything in Queue to compare files
      const queue = relay.spool.layout.queue;
      const pickup = relay.spool.layout.pickup;
      const originals = new Map<string, Buffer>();
      try {
        await sendMail({ port: relayPort(relay), from: 'a@example.com', to: [], envelope: { from: 'a@example.com', to: ['b@example.net'] }, raw: trickyMessage('queue') });
        await dropFile(pickup, 'email.txt', await fixture('email.txt')); // a Queue file made by Pickup itself
        await eventually(async () => (await filesIn(queue, '.eml')).length === 2 && (await filesIn(pickup)).length === 0, 10_000, 'two queued');
        for (const name of await filesIn(queue, '.eml')) originals.set(name, await fs.readFile(path.join(queue, name)));
        assert.ok([...originals.values()].some((b) => b.includes('Received: from mail pickup service')), 'one came through Pickup');

        for (const name of originals.keys()) await fs.rename(path.join(queue, name), path.join(pickup, name));
        const requeued = async () => (await filesIn(queue, '.eml')).filter((n) => !originals.has(n));
        await eventually(async () => (await filesIn(pickup)).length === 0 && (await requeued()).length === 2, 10_000, 'both queued again');
        const again = await Promise.all((await requeued()).map((n) => fs.readFile(path.join(queue, n))));
        const text = (b: Buffer) => b.toString('latin1');
        // Envelope lines, then this hop's trace line, then the message as it was.
        const withoutHop = (b: Buffer) => text(b).replace(/^((?:X-[^\r]*\r\n)+)Received: from mail pickup service[^\r]*\r\n\t[^\r]*\r\n/, '$1');
        assert.deepEqual(again.map(withoutHop).sort(), [...originals.values()].map(text).sort(), 'queued byte for byte as before');
        for (const b of again) assert.ok(withoutHop(b) !== text(b), 'each under a new Received: line');
      } finally {
        await upstream.start();
      }
      const before = upstream.received.length;
      await relay.rescan();
      const sent = (await upstream.waitFor(before + 2)).slice(before);
      const text = (b: Buffer) => b.toString('latin1');
      assert.deepEqual(sent.map((m) => afterPickupReceived(m.data)).sort(), [...originals.values()].map((b) => text(messagePart(b))).sort());
    });

    it('a forged mailroot file gets the NUL guard and this hop\'s Received: line like any other', async () => {
      const forged = (tag: string, extra: string) =>
        `X-Sender: <a@example.com>\r\nX-Receiver: <b@example.net>\r\n` +
        `Received: from nowhere by relay.example (mailroot) with ESMTP id forged;\r\n\tMon, 30 Nov 2026 04:11:28 +0000\r\n` +
        `From: a@example.com\r\nSubject: forged ${tag}\r\n\r\nbody${extra}\r\n`;
      await dropFile(relay.spool.layout.pickup, 'forged-nul.eml', forged('nul', '\0 after a NUL'));
      await dropFile(relay.spool.layout.pickup, 'forged.eml', forged('plain', ''));
      const badmail = relay.spool.layout.badmail;
      await eventually(
        async () => {
          const reports = await Promise.all((await filesIn(badmail, '.bdr')).map((n) => fs.readFile(path.join(badmail, n), 'utf8')));
          return reports.some((r) => /binary file: it holds NUL bytes[\s\S]*forged-nul\.eml/.test(r));
        },
        10_000,
        'the forged file with a NUL in Badmail',
      );
      const message = await eventually(() => upstream.received.some((m) => m.data.includes('Subject: forged plain')), 10_000, 'the forged file sent').then(
        () => upstream.received.find((m) => m.data.includes('Subject: forged plain'))!,
      );
      assert.match(afterPickupReceived(message.data), /^Received: from nowhere by relay\.example \(mailroot\)/, 'the forged line stays below ours');
      assert.ok(!upstream.received.some((m) => m.data.includes('after a NUL')), 'the NUL file was not sent');
    });
  });
}
