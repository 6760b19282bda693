// An operator moves a file into Queue under the name of a message that is being attempted right now (the replay
// of a Badmail file, seconds after the attempt that put it there). The watch event comes while the name is in
// flight, so the scheduler already knows it; once that attempt has taken its file away, the new file must still
// be tried at once, not at the next rescan. Real spool, watcher and scheduler on the real filesystem; the agent
// is scripted so that the move lands inside the attempt every time.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { AttemptOutcome } from '../../src/delivery/agent.js';
import { QueueWatcher } from '../../src/delivery/queue-watcher.js';
import { Scheduler } from '../../src/delivery/scheduler.js';
import { silentLogger } from '../../src/log/logger.js';
import { MailEvents } from '../../src/log/mail-events.js';
import { Spool } from '../../src/spool/spool.js';
import { eventually, tempMailroot } from '../helpers/relay.js';

const MESSAGE = 'X-Sender: <a@x.example>\r\nX-Receiver: <b@y.example>\r\n\r\nSubject: t\r\n\r\nbody\r\n';

/** Records every name the watcher reports to the scheduler, passing each on. */
function spyOnReports(scheduler: Scheduler): string[] {
  const reports: string[] = [];
  const notify = scheduler.notify.bind(scheduler);
  scheduler.notify = (name: string) => {
    reports.push(name);
    notify(name);
  };
  return reports;
}

describe('Queue watcher: a file moved in under the name of a message in flight', () => {
  const stops: Array<() => Promise<void>> = [];
  after(async () => {
    for (const stop of stops) await stop();
  });

  async function setup(answer: (name: string, attempt: number) => Promise<AttemptOutcome>) {
    const spool = await Spool.open(await tempMailroot(), { lock: false });
    const attempts: string[] = [];
    const agent = {
      attempt: async (name: string) => {
        attempts.push(name);
        return answer(name, attempts.filter((n) => n === name).length);
      },
    };
    const log = silentLogger();
    const scheduler = new Scheduler({ agent, concurrency: 2, probeInterval: 60_000, slowRetry: 60_000, log, events: new MailEvents(log) });
    // No rescan inside the test: only the watch event and the scheduler can find the file.
    const watcher = new QueueWatcher({ spool, scheduler, rescanInterval: 600_000, log });
    stops.push(async () => {
      await watcher.stop();
      await scheduler.stop(1_000);
    });
    return { spool, scheduler, watcher, attempts };
  }

  it('tries the new file as soon as the attempt in flight ends, not at the next rescan', async () => {
    const queueFile = (spool: Spool) => path.join(spool.layout.queue, 'm1.eml');
    let spoolRef: Spool | undefined;
    let moved!: () => void;
    const movedIn = new Promise<void>((resolve) => (moved = resolve));
    const { spool, watcher, attempts, scheduler } = await setup(async (name, attempt) => {
      if (attempt > 1) return { kind: 'delivered' };
      // The attempt moves the file out (as Badmail does), then the operator moves a file in under its name.
      await fs.rename(queueFile(spoolRef!), path.join(spoolRef!.layout.badmail, 'm1.bad'));
      const outside = path.join(spoolRef!.layout.root, 'm1.incoming');
      await fs.writeFile(outside, MESSAGE);
      await fs.rename(outside, queueFile(spoolRef!));
      await movedIn; // the watch event for the new file has reached the scheduler while m1 is in flight
      return { kind: 'badmail' };
    });
    spoolRef = spool;
    const reports = spyOnReports(scheduler);
    await fs.writeFile(queueFile(spool), MESSAGE);
    watcher.start();
    await eventually(() => attempts.length >= 1, 10_000, 'the first attempt');
    // The first report is the start-up listing's; the next is the watch event for the file moved in.
    await eventually(() => reports.length >= 2, 10_000, 'the watch event for the moved-in file');
    assert.equal(attempts.length, 1, 'm1 is known and in flight: the report alone starts nothing');
    moved();
    await eventually(() => attempts.length >= 2, 5_000, 'the moved-in file to be tried without a rescan');
    assert.deepEqual(attempts, ['m1.eml', 'm1.eml']);
  });

  it('does not try a name again when the file reported during the attempt was its own, now delivered', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let spoolRef: Spool | undefined;
    const { spool, watcher, attempts, scheduler } = await setup(async (name) => {
      await released;
      await fs.unlink(path.join(spoolRef!.layout.queue, name)); // delivered: the file leaves Queue
      return { kind: 'delivered' };
    });
    spoolRef = spool;
    watcher.start();
    const { id } = await spool.accept({ sender: 'a@x.example', recipients: ['b@y.example'] }, Readable.from([Buffer.from('Subject: t\r\n\r\nbody\r\n')]));
    await eventually(() => attempts.length === 1, 10_000, 'the attempt');
    scheduler.notify(`${id}.eml`); // the watch event's echo of the relay's own write, reported during the attempt
    release();
    await eventually(() => scheduler.inFlight === 0 && scheduler.size === 0, 5_000, 'the attempt to settle');
    assert.deepEqual(attempts, [`${id}.eml`], 'one attempt: the file was gone');
  });
});
