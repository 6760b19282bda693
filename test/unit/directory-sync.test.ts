import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectorySync } from '../../src/spool/durable.js';

/** A stand-in flush that records when each one starts and lets the test end it. */
function fakeFlush() {
  const flushes: Array<{ startedAfter: number; dir: string; finish: (err?: Error) => void }> = [];
  let changes = 0;
  return {
    flushes,
    /** A caller makes its change (a rename) and asks for the directory to be flushed. */
    change: () => ++changes,
    flush: (dir: string) =>
      new Promise<void>((resolve, reject) => {
        flushes.push({ startedAfter: changes, dir, finish: (err) => (err ? reject(err) : resolve()) });
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
});
