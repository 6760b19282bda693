// Files in the exact shapes real writers leave in Pickup go out as IIS sent them (with its documented
// improvements): checked byte for byte at a real SMTP server playing the smart host.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Relay } from '../../src/relay.js';
import { afterPickupReceived, dropFile, fixture, maskGenerated, receivedWith } from '../helpers/pickup.js';
import { eventually, filesIn, startRelay } from '../helpers/relay.js';
import { Upstream } from '../helpers/upstream.js';

const NIGHTLY_REPORT_SENT =
  'MIME-Version: 1.0\r\n' +
  'From: "Do Not Reply" <donotreply@app.example>\r\n' +
  'To: ops@example.net\r\n' +
  'Cc: "Carol, Team Lead" <carol@example.net>\r\n' +
  'Date: 26 Oct 2022 14:43:15 -0700\r\n' +
  'Subject: Nightly report\r\n' +
  'Content-Type: text/plain; charset=us-ascii\r\n' +
  'Content-Transfer-Encoding: quoted-printable\r\n' +
  'Message-ID: <generated>\r\n' +
  '\r\n' +
  'Report for 2022-10-26.\r\n' +
  '.hidden-file was skipped\r\n' +
  '.\r\n' +
  '..three dots in the file, two meant\r\n' +
  'End of report.\r\n' +
  '\r\n';

describe('Pickup: files as writers write them', () => {
  let upstream: Upstream;
  let iis: Relay; // pickupDotStuffed: true (the default, IIS's behaviour)
  let raw: Relay; // pickupDotStuffed: false

  before(async () => {
    upstream = await new Upstream().start();
    iis = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '100ms' } });
    raw = await startRelay({ smartHost: upstream.address, settings: { pickupSettleTime: '100ms', pickupDotStuffed: 'false' } });
  });
  after(async () => {
    await iis.stop();
    await raw.stop();
    await upstream.stop();
  });

  async function pickupEmpties(relay: Relay): Promise<void> {
    await eventually(async () => (await filesIn(relay.spool.layout.pickup)).length === 0, 10_000, 'Pickup to empty');
    await eventually(async () => (await filesIn(relay.spool.layout.queue)).length === 0, 10_000, 'Queue to empty');
  }

  it('.NET Framework (doubled dots, "Name" <addr> and bare envelope values): dots halved, Message-ID added', async () => {
    const name = 'dotnet-framework-79edddc6-ce98-4eff-b8ea-414e392bce1f.eml';
    await dropFile(iis.spool.layout.pickup, name, await fixture(name));
    const message = await receivedWith(upstream, 'Nightly report');
    assert.equal(message.from, 'donotreply@app.example');
    assert.deepEqual(message.to, ['ops@example.net', 'carol@example.net', 'audit@example.org']);
    assert.equal(maskGenerated(afterPickupReceived(message.data)), NIGHTLY_REPORT_SENT);
    await pickupEmpties(iis);
    upstream.received.splice(upstream.received.indexOf(message), 1);
  });

  it('modern .NET (single dots) with pickupDotStuffed false: the very same message', async () => {
    const name = 'dotnet-modern-0b7f3a52-5d3c-4b8e-9d0e-2f6a1c4e8b90.eml';
    await dropFile(raw.spool.layout.pickup, name, await fixture(name));
    const message = await receivedWith(upstream, 'Nightly report');
    assert.deepEqual([message.from, ...message.to], ['donotreply@app.example', 'ops@example.net', 'carol@example.net', 'audit@example.org']);
    assert.equal(maskGenerated(afterPickupReceived(message.data)), NIGHTLY_REPORT_SENT);
    await pickupEmpties(raw);
  });

  it('a folded X-Receiver value (.NET folds long display names)', async () => {
    await dropFile(iis.spool.layout.pickup, 'dotnet-folded-envelope.eml', await fixture('dotnet-folded-envelope.eml'));
    const message = await receivedWith(upstream, 'Disk almost full');
    assert.equal(message.from, 'alerts@app.example');
    assert.deepEqual(message.to, ['oncall@example.net']);
    assert.match(afterPickupReceived(message.data), /^MIME-Version: 1\.0\r\nFrom: alerts@app\.example\r\nTo: "Operations/);
  });

  it('the IIS documentation file (email.txt, lower-case x-sender, LF only): a lone "." line does not end it', async () => {
    const bytes = await fixture('email.txt');
    await dropFile(iis.spool.layout.pickup, 'email.txt', bytes);
    await dropFile(raw.spool.layout.pickup, 'email.txt', bytes);
    await eventually(() => upstream.received.filter((m) => m.data.includes('Subject: Testing.')).length === 2, 20_000, 'both copies');
    const copies = upstream.received.filter((m) => m.data.includes('Subject: Testing.'));
    for (const message of copies) {
      assert.equal(message.from, 'sender@example.com');
      assert.deepEqual(message.to, ['user1@example.net']);
    }
    const bodies = copies.map((m) => maskGenerated(afterPickupReceived(m.data))).sort();
    const head = 'Subject: Testing.\r\nMessage-ID: <generated>\r\nDate: <generated>\r\n\r\n';
    assert.deepEqual(bodies, [
      head + 'Testing\r\n\r\n\r\n\r\nTesting\r\n', // IIS: the dot removed, the line kept
      head + 'Testing\r\n\r\n.\r\n\r\nTesting\r\n', // pickupDotStuffed false: the dot kept
    ]);
    await pickupEmpties(iis);
    await pickupEmpties(raw);
  });

  it('Exchange-style envelope values with parameters, mixed CRLF/LF/CR: parameters ignored, CRLF out, nothing added', async () => {
    await dropFile(iis.spool.layout.pickup, 'exchange-style.eml', await fixture('exchange-style.eml'));
    const message = await receivedWith(upstream, 'mixed line endings');
    assert.equal(message.from, 'app@example.com');
    assert.deepEqual(message.to, ['first@example.net', 'second@example.net']);
    assert.equal(
      afterPickupReceived(message.data),
      'From: App <app@example.com>\r\nTo: first@example.net, second@example.net\r\nSubject: mixed line endings\r\n' +
        'Message-ID: <fixed-1@example.com>\r\nDate: Mon, 30 Nov 2026 04:11:28 +0000\r\n\r\n' +
        'lf line\r\ncrlf line\r\ncr line\r\nlast\r\n',
    );
  });

  it('a header-only file with no envelope lines: recipients from To/Cc/Bcc, Bcc: removed', async () => {
    await dropFile(iis.spool.layout.pickup, 'headers-only-bcc.eml', await fixture('headers-only-bcc.eml'));
    const message = await receivedWith(upstream, 'Build 42 passed');
    assert.equal(message.from, 'builds@ci.example');
    assert.deepEqual(message.to, [
      'john@example.net',
      'jane@example.net',
      'ann@example.org',
      'bob@example.org',
      'auditor@example.com',
      'archive@example.com',
    ]);
    assert.equal(
      maskGenerated(afterPickupReceived(message.data)),
      'From: "Builds, Nightly" <builds@ci.example>\r\n' +
        'To: "Doe, John" <john@example.net>, jane@example.net\r\n' +
        'Cc: Project Team: "Lee, Ann" <ann@example.org>,\r\n\tbob@example.org;, "Doe, John" <JOHN@example.net>\r\n' +
        'Subject: Build 42 passed\r\n' +
        'Message-ID: <generated>\r\n' +
        'Date: <generated>\r\n',
    );
    assert.doesNotMatch(message.data.toString(), /auditor|archive|^Bcc:/im);
  });

  it('log4net (no extension, semicolons, Sender: before From:)', async () => {
    const name = 'log4net-0f8fad5bd9cb469fa16570867728950e';
    await dropFile(iis.spool.layout.pickup, name, await fixture(name));
    const message = await receivedWith(upstream, 'ERROR in OrderService');
    assert.equal(message.from, 'log4net@app.example');
    assert.deepEqual(message.to, ['ops@example.net', 'dev@example.net']);
    assert.match(maskGenerated(afterPickupReceived(message.data)), /^To: ops@example\.net;dev@example\.net\r\n[^]*\r\nMessage-ID: <generated>\r\n\r\nSystem\.NullReference/);
    await pickupEmpties(iis);
  });
});
