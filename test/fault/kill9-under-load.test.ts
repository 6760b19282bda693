import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCrashHarness } from '../helpers/crash-harness.js';

// Small size for `npm test`: three kills, each a real kill -9 and restart of the relay process (about 0.6 s of CPU
// per start), while three clients send 100 messages and 50 files are moved into Pickup; every acknowledged one
// must arrive. Each kill comes after 5 to 25 more 250s, not after a time, so that all three fall in the middle of
// the load on a fast machine and a slow one alike. `node dist/scripts/fault.js` runs 5 000 messages, 1 000 Pickup
// files and 50 kills at random times.
describe('kill -9 under load', () => {
  it('loses no acknowledged message and no Pickup file across repeated kill -9 and restart', async () => {
    const kills = 3;
    const clients = 3;
    const report = await runCrashHarness({ messages: 100, pickupFiles: 50, kills, clients, minGap: 150, maxGap: 500, seed: 7, killAfterAcks: [5, 25], drainTimeout: 30_000 });
    assert.equal(report.killsUnderLoad, kills, 'every kill came while the clients were sending');
    assert.deepEqual(report.lost, [], 'every message that got 250, and every Pickup file, reached the upstream');
    assert.ok(report.acked === 150, `all 100 acknowledged and 50 dropped in the end (got ${report.acked})`);
    assert.deepEqual(report.invalidQueueFiles, [], 'no half-written file in Queue or Badmail');
    assert.deepEqual(report.sortTempLeftovers, [], 'SortTemp clean');
    assert.equal(report.queueLeft, 0);
    // At most the messages in flight at each kill come twice: up to `concurrency` (10) deliveries and one
    // acknowledgement per client lost between the rename into Queue and the 250.
    assert.ok(report.duplicates <= kills * (10 + clients), `duplicates ${report.duplicates} within bound`);
  });
});
