import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectorySync } from '../../src/spool/durable.js';
import type { Wait } from '../../src/spool/file-ops.js';

/** A stand-in flush that records when each one starts and lets the test end it. */
function fakeFlush() {
  const flushes: Array<{ startedAfter: number; dir: string; wait: Wait; finish: (err?: Error) => void }> = [];
  let changes = 0;
  return {
    flushes,
    /** A caller makes its change (a rename) and asks for the directory to be flushed. */
    change: () => ++changes,
    flush: (dir: string, wait: Wait) =>
      new Promise<void>((resolve, reject) => {
        flushes.push({ startedAfter: changes, dir, wait, finish: (err) => (err ? reject(err) : resolve()) });
      }),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('DirectorySync (group commit of directory fsyncs)', () => {
  it('resolves each caller only after a flush that started after its change, sharing flushes', async () => {
    const fake = fakeFlush();
    const sync = new DirectorySync('/q', fake.flush);
    const done: number[] = [];
    const ask = () => {
      const change = fake.change();
      void sync.sync().then(() => done.push(change));
    };
    ask(); // starts flush 0 at once
    ask();
    ask(); // both wait: flush 0 may have started before their changes
    await tick();
    assert.equal(fake.flushes.length, 1);
    fake.flushes[0]!.finish();
    await tick();
    assert.deepEqual(done, [1]);
    assert.equal(fake.flushes.length, 2, 'one more flush serves both waiting callers');
    assert.equal(fake.flushes[1]!.startedAfter, 3);
    ask(); // arrives while flush 1 runs: needs flush 2
    fake.flushes[1]!.finish();
    await tick();
    assert.deepEqual(done, [1, 2, 3]);
    fake.flushes[2]!.finish();
    await tick();
    assert.deepEqual(done, [1, 2, 3, 4]);
    for (const [index, flush] of fake.flushes.entries()) {
      const served = index === 0 ? [1] : index === 1 ? [2, 3] : [4];
      for (const change of served) assert.ok(flush.startedAfter >= change, `flush ${index} started after change ${change}`);
    }
  });

  it('reports a failed flush to every caller that shared it, and recovers', async () => {
    const fake = fakeFlush();
    const sync = new DirectorySync('/q', fake.flush);
    const first = sync.sync();
    const second = sync.sync();
    const third = sync.sync();
    fake.flushes[0]!.finish(new Error('EIO'));
    await assert.rejects(first, /EIO/);
    await tick();
    fake.flushes[1]!.finish(new Error('EIO again'));
    await assert.rejects(second, /EIO again/);
    await assert.rejects(third, /EIO again/);
    const fourth = sync.sync();
    await tick();
    fake.flushes[2]!.finish();
    await fourth;
  });

  it("flushes on the caller's thread ('inline') only when no flush is running; one that waits shares a 'pool' flush", async () => {
    const fake = fakeFlush();
    const sync = new DirectorySync('/q', fake.flush);
    const first = sync.sync('inline');
    assert.equal(fake.flushes.length, 1, 'started at once');
    assert.deepEqual([fake.flushes[0]!.dir, fake.flushes[0]!.wait], ['/q', 'inline']);
    // Arriving while it runs: they wait for the next one, whatever they asked for.
    const second = sync.sync('inline');
    const third = sync.sync();
    await tick();
    assert.equal(fake.flushes.length, 1, 'the next flush waits for the running one');
    fake.flushes[0]!.finish();
    await first;
    await tick();
    assert.equal(fake.flushes.length, 2, 'one shared flush for both waiting callers');
    assert.equal(fake.flushes[1]!.wait, 'pool');
    fake.flushes[1]!.finish();
    await Promise.all([second, third]);

    // Idle again: the wait asked for is passed on, and the default is the thread pool.
    const fourth = sync.sync();
    assert.equal(fake.flushes[2]!.wait, 'pool');
    fake.flushes[2]!.finish();
    await fourth;
    const fifth = sync.sync('inline');
    assert.equal(fake.flushes[3]!.wait, 'inline');
    fake.flushes[3]!.finish();
    await fifth;
    assert.equal(fake.flushes.length, 4);
  });

  it("starts the shared flush with 'pool' even if every waiting caller asked for 'inline', also after a failure", async () => {
    const fake = fakeFlush();
    const sync = new DirectorySync('/q', fake.flush);
    const first = sync.sync('pool');
    const waiting = [sync.sync('inline'), sync.sync('inline')];
    fake.flushes[0]!.finish(new Error('EIO'));
    await assert.rejects(first, /EIO/);
    await tick();
    assert.deepEqual(fake.flushes.map((f) => f.wait), ['pool', 'pool']);
    fake.flushes[1]!.finish();
    await Promise.all(waiting);
    const next = sync.sync('inline');
    assert.equal(fake.flushes[2]!.wait, 'inline', 'nothing running after the shared flush ended');
    fake.flushes[2]!.finish();
    await next;
  });
});
