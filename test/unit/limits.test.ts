import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SMTPServerSession } from 'smtp-server';
import { ConnectionTracker, DiskGate, SessionBytes, statfsFreeSpace } from '../../src/smtp/limits.js';

describe('inbound limits', () => {
  it('counts connections in all and per address, and only those it counted in', () => {
    const tracker = new ConnectionTracker({ maxConnections: 3, maxConnectionsPerIp: 2 });
    assert.equal(tracker.open('a', '127.0.0.2'), undefined);
    assert.equal(tracker.open('b', '127.0.0.2'), undefined);
    assert.equal(tracker.open('c', '127.0.0.2')?.responseCode, 421);
    assert.equal(tracker.open('d', '127.0.0.3'), undefined);
    assert.match(tracker.open('e', '127.0.0.4')!.message, /Too many connections, try/);
    tracker.close('c'); // refused, never counted: must not free a slot
    tracker.close('zzz');
    assert.equal(tracker.total, 3);
    tracker.close('a');
    assert.equal(tracker.countOf('127.0.0.2'), 1);
    assert.equal(tracker.open('f', '127.0.0.2'), undefined);
    for (const id of ['b', 'd', 'f']) tracker.close(id);
    assert.equal(tracker.total, 0);
    assert.equal(tracker.countOf('127.0.0.2'), 0);
  });

  it('adds up the bytes of a session', () => {
    const bytes = new SessionBytes(100);
    const session = {} as SMTPServerSession;
    assert.equal(bytes.remaining(session), 100);
    bytes.add(session, 60);
    bytes.add(session, 50);
    assert.equal(bytes.used(session), 110);
    assert.equal(bytes.remaining(session), 0);
    assert.equal(bytes.remaining({} as SMTPServerSession), 100, 'per session');
  });

  it('refuses MAIL FROM when free space minus the message would fall below minFreeSpace', async () => {
    let free = 0;
    const gate = new DiskGate({ dir: '.', minFreeSpace: 1000, maxMessageSize: 200, probe: async () => free });
    free = 1200;
    assert.equal(await gate.check(undefined), undefined, 'exactly enough for maxMessageSize');
    free = 1199;
    assert.equal((await gate.check(undefined))?.message, '4.3.1 Insufficient system storage');
    assert.equal((await gate.check(undefined))?.responseCode, 452);
    assert.equal(await gate.check(199), undefined, 'a declared SIZE counts instead');
    assert.equal((await gate.check(200))?.responseCode, 452);
    const off = new DiskGate({ dir: '.', minFreeSpace: 0, maxMessageSize: 200, probe: async () => 0 });
    assert.equal(await off.check(undefined), undefined);
  });

  it('lets mail through, once noted, when free space cannot be measured', async () => {
    const errors: string[] = [];
    const gate = new DiskGate({
      dir: '.',
      minFreeSpace: 1,
      maxMessageSize: 1,
      probe: async () => {
        throw new Error('ENOSYS');
      },
      onProbeError: (err) => errors.push(err.message),
    });
    assert.equal(await gate.check(undefined), undefined);
    assert.deepEqual(errors, ['ENOSYS']);
  });

  it('measures real free space with statfs', async () => {
    assert.ok((await statfsFreeSpace('.')) > 0);
  });
});
