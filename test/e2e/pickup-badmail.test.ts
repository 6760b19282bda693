// Files that are not a sendable message go to Badmail as <stem>.bad (the file unchanged) with a <stem>.bdr
// reason, and the relay goes on with the next file. Read-only and locked files are taken once, never again.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { dropFile, receivedWith } from '../helpers/pickup.js';
import { eventually, filesIn, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const MAX = 256 * 1024;
const body = (lines: number) => Array.from({ length: lines }, (_, i) => `line ${i} of a longer message body`).join('\r\n') + '\r\n';

const BAD_FILES: Array<{ name: string; bytes: Buffer; reason: RegExp }> = [
  { name: 'empty.eml', bytes: Buffer.alloc(0), reason: /the file is empty/ },
  { name: 'no-sender.eml', bytes: Buffer.from('To: a@example.net\r\nSubject: no sender\r\n\r\nbody\r\n'), reason: /no sender/ },
  { name: 'no-recipients.eml', bytes: Buffer.from('From: a@example.com\r\nSubject: no recipients\r\n\r\nbody\r\n'), reason: /no recipients/ },
  {
    name: 'to-not-an-address.eml',
    bytes: Buffer.from('From: a@example.com\r\nTo: ok@example.net, someone\r\nSubject: x\r\n\r\nbody\r\n'),
    reason: /not an e-mail address in To: "someone"/,
  },
  {
    name: 'injection.eml',
    bytes: Buffer.from('X-Sender: a@example.com\r\nX-Receiver: b@example.net> NOTIFY=NEVER\r\nSubject: x\r\n\r\nbody\r\n'),
    reason: /X-Receiver address "b@example\.net>" has characters not allowed/,
  },
  {
    name: 'image.png',
    bytes: Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.from([0, 0, 0, 13]), Buffer.from('IHDR')]),
    reason: /binary file/,
  },
  {
    name: 'nul-deep-in-body.eml',
    bytes: Buffer.concat([Buffer.from('From: a@example.com\r\nTo: b@example.net\r\nSubject: x\r\n\r\n' + body(4000)), Buffer.from([0]), Buffer.from('\r\n')]),
    reason: /binary file: it holds NUL bytes/,
  },
  { name: 'notes.txt', bytes: Buffer.from('Hello, this is a note and not a mail.\r\nSee you.\r\n'), reason: /not a mail message/ },
  {
    name: 'too-big.eml',
    bytes: Buffer.from('From: a@example.com\r\nTo: b@example.net\r\nSubject: big\r\n\r\n' + body(8000)),
    reason: /larger than maxMessageSize \(262144 bytes\)/,
  },
];

describe('Pickup: bad files go to Badmail', () => {
  let upstream: Upstream;
  let relay: Relay;

  before(async () => {
    upstream = await new Upstream().start();
    relay = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '100ms', maxMessageSize: `${MAX}` } });
  });
  after(async () => {
    await relay.stop();
    await upstream.stop();
  });

  it('each bad file becomes .bad (unchanged) + .bdr (why), and the good file among them is sent', async () => {
    const { pickup, badmail } = relay.spool.layout;
    assert.ok(BAD_FILES.find((f) => f.name === 'too-big.eml')!.bytes.length > MAX);
    assert.ok(BAD_FILES.find((f) => f.name === 'nul-deep-in-body.eml')!.bytes.indexOf(0) > 128 * 1024, 'NUL beyond the head read');
    for (const file of BAD_FILES) await dropFile(pickup, file.name, file.bytes);
    await dropFile(pickup, 'good.eml', 'From: a@example.com\r\nTo: b@example.net\r\nSubject: the good one\r\n\r\nbody\r\n');

    const good = await receivedWith(upstream, 'the good one');
    assert.deepEqual([good.from, ...good.to], ['a@example.com', 'b@example.net']);
    await eventually(async () => (await filesIn(badmail, '.bad')).length === BAD_FILES.length, 10_000, 'every bad file in Badmail');
    assert.deepEqual(await filesIn(pickup), []);
    assert.deepEqual(await filesIn(relay.spool.layout.sortTemp), []);

    const reports = new Map<string, { report: string; bad: Buffer }>();
    for (const bdr of await filesIn(badmail, '.bdr')) {
      const report = await fs.readFile(path.join(badmail, bdr), 'utf8');
      const file = /^Reason: .* \[Pickup file "(.+)"\]\r$/m.exec(report)?.[1];
      assert.ok(file, `${bdr} names the Pickup file`);
      reports.set(file, { report, bad: await fs.readFile(path.join(badmail, bdr.replace(/\.bdr$/, '.bad'))) });
    }
    for (const file of BAD_FILES) {
      const entry = reports.get(file.name);
      assert.ok(entry, `a report for ${file.name}`);
      assert.match(entry.report, file.reason, file.name);
      assert.ok(entry.bad.equals(file.bytes), `${file.name} is in Badmail unchanged`);
    }
    assert.equal(upstream.received.length, 1, 'nothing but the good file was sent');
  });

  it('a read-only file is sent once and removed, and not again after a restart', async () => {
    const file = await dropFile(relay.spool.layout.pickup, 'readonly.eml', 'From: a@example.com\r\nTo: b@example.net\r\nSubject: read-only\r\n\r\nbody\r\n');
    await fs.chmod(file, 0o444);
    await receivedWith(upstream, 'read-only');
    await eventually(async () => (await filesIn(relay.spool.layout.pickup)).length === 0, 10_000, 'Pickup to empty');
    await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue to empty');

    const mailroot = relay.spool.layout.root;
    await relay.stop();
    relay = await startRelay({ mailroot, smartHost: upstream.address, settings: { pickupSettleTime: '100ms', maxMessageSize: `${MAX}` } });
    await relay.pickup.rescan();
    await relay.rescan();
    assert.deepEqual(await filesIn(relay.spool.layout.pickup), []);
    assert.deepEqual(await filesIn(relay.spool.layout.queue), []);
    assert.equal(upstream.received.filter((m) => m.data.includes('read-only')).length, 1);
  });

  it('a file its writer still holds open (rename refused, as on Windows) waits, then is sent once and whole', async () => {
    const spool = relay.spool;
    const claim = spool.claimPickupFile.bind(spool);
    let refused = 0;
    spool.claimPickupFile = async (name) => {
      if (name === 'locked.eml' && refused < 1) {
        refused++;
        throw Object.assign(new Error(`EBUSY: resource busy or locked, rename '${name}'`), { code: 'EBUSY' });
      }
      return claim(name);
    };
    try {
      await dropFile(spool.layout.pickup, 'locked.eml', 'From: a@example.com\r\nTo: b@example.net\r\nSubject: was locked\r\n\r\nbody\r\n');
      await receivedWith(upstream, 'was locked');
      assert.equal(refused, 1, 'the claim was refused, then succeeded (a second refusal only repeats the 1 s wait)');
      assert.deepEqual(await filesIn(spool.layout.pickup), []);
      assert.equal(upstream.received.filter((m) => m.data.includes('was locked')).length, 1);
      assert.equal((await filesIn(spool.layout.badmail, '.bdr')).length, BAD_FILES.length, 'nothing new in Badmail');
    } finally {
      spool.claimPickupFile = claim;
    }
  });
});
