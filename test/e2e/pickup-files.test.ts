// Which files Pickup takes, and when: everything present at start-up, whatever its name, except names writers
// use while they work; a claimed file a crash left in SortTemp; and a file written slowly in place, only once
// its writer has finished.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { afterPickupReceived, receivedWith } from '../helpers/pickup.js';
import { eventually, filesIn, startRelay, tempMailroot } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const message = (subject: string) => `From: a@example.com\r\nTo: b@example.net\r\nSubject: ${subject}\r\n\r\nbody\r\n`;
const SKIPPED = ['.writing.eml', 'report.eml.tmp', 'draft~', '~$note.eml', 'Thumbs.db', 'upload.part', 'x.crdownload'];

describe('Pickup: which files, and when', () => {
  const upstream = new Upstream();
  const relays: Relay[] = [];

  after(async () => {
    for (const relay of relays) await relay.stop();
    await upstream.stop();
  });

  it('takes every file present at start-up, whatever its name, and a claim a crash left in SortTemp', async () => {
    await upstream.start();
    const mailroot = await tempMailroot();
    const pickup = path.join(mailroot, 'pickup'); // spelled as some applications hard-code it
    const sortTemp = path.join(mailroot, 'SortTemp');
    await fs.mkdir(pickup);
    await fs.mkdir(sortTemp);
    await fs.mkdir(path.join(pickup, 'subfolder'));
    await fs.writeFile(path.join(pickup, 'subfolder', 'inner.eml'), message('inside a subfolder'));
    await fs.writeFile(path.join(pickup, 'a.eml'), message('startup a.eml'));
    await fs.writeFile(path.join(pickup, 'email.txt'), message('startup email.txt'));
    await fs.writeFile(path.join(pickup, 'NOEXTENSION'), message('startup NOEXTENSION'));
    for (const name of SKIPPED) await fs.writeFile(path.join(pickup, name), message(`skipped ${name}`));
    await fs.writeFile(path.join(sortTemp, '20261130T041128123Z-0001-9f3ac2e1d0.pickup'), message('claimed before a crash'));
    await fs.writeFile(path.join(sortTemp, '20261130T041128123Z-0002-0000000000.accept.tmp'), 'half a message from a client that never got 250');

    const relay = await startRelay({ mailroot, smartHost: upstream.address, settings: { pickupSettleTime: '100ms' } });
    relays.push(relay);
    assert.equal(relay.spool.layout.pickup, pickup);
    for (const subject of ['startup a.eml', 'startup email.txt', 'startup NOEXTENSION', 'claimed before a crash']) {
      await receivedWith(upstream, subject);
    }
    const taken = ['a.eml', 'email.txt', 'NOEXTENSION'];
    await eventually(async () => !(await fs.readdir(pickup)).some((n) => taken.includes(n)), 10_000, 'the taken files to leave Pickup');
    await relay.pickup.rescan();
    await relay.pickup.rescan();
    const left = (await fs.readdir(pickup)).sort();
    assert.deepEqual(left, [...SKIPPED, 'subfolder'].sort(), 'work-in-progress names and folders are left alone');
    assert.deepEqual(await fs.readdir(sortTemp), []);
    assert.equal(upstream.received.length, 4);
    assert.ok(!upstream.received.some((m) => m.data.includes('skipped') || m.data.includes('subfolder')));
  });

  it('a file written in place slowly, in chunks with the relay looking between them, is sent once and whole', async () => {
    const relay = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '1s' } });
    relays.push(relay);
    const before = upstream.received.length;
    const name = '6f9619ff-8b86-d011-b42d-00c04fc964ff.eml';
    const file = path.join(relay.spool.layout.pickup, name);
    const head = 'X-Sender: a@example.com\r\nX-Receiver: b@example.net\r\n';
    const headers = 'From: a@example.com\r\nTo: b@example.net\r\nSubject: written slowly\r\nMessage-ID: <slow@example.com>\r\nDate: Mon, 30 Nov 2026 04:11:28 +0000\r\n\r\n';
    const chunks = Array.from({ length: 30 }, (_, i) => `chunk ${i}: ${'x'.repeat(4000)}\r\n`);
    let seenWaiting = 0;
    const handle = await fs.open(file, 'wx'); // like System.Net.Mail: FileMode.CreateNew, straight into Pickup
    try {
      await handle.write(head + headers);
      for (const chunk of chunks) {
        // The writer's pace is the relay's: each chunk comes after a listing saw the file as it was, so every
        // listing finds it changed, however slow the machine, until the writer stops.
        await relay.pickup.rescan();
        if (relay.pickup.pending.includes(name)) seenWaiting++;
        await handle.write(chunk);
      }
    } finally {
      await handle.close();
    }
    assert.equal(seenWaiting, chunks.length, 'every listing saw the unfinished file (and left it)');
    const sent = await receivedWith(upstream, 'written slowly');
    const expected = headers + chunks.join('');
    const got = afterPickupReceived(sent.data);
    const digest = (text: string) => createHash('sha256').update(text).digest('hex');
    assert.equal(got.length, expected.length, 'the whole file was sent');
    assert.equal(digest(got), digest(expected));
    await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue to empty');
    await relay.pickup.rescan();
    assert.equal(upstream.received.length - before, 1, 'sent once');
    assert.deepEqual(await filesIn(relay.spool.layout.pickup), []);
    assert.deepEqual(await filesIn(relay.spool.layout.badmail), []);
  });
});
