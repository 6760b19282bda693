// The queue commands' changes to a message's files, written the way the relay writes its own (temp file in
// SortTemp, fsync, rename, fsync of the folder) so that they are safe with the relay running or stopped:
//
//   markDueNow     the message's .rtr gets Next-Attempt = now. A running relay's Queue watcher sees the .rtr
//                  change and tries the message at once.
//   moveToHold     <id>.rtr, then <id>.eml, move from Queue into Hold: nothing tries a file that is not in
//                  Queue, across restarts too. Moving the .eml is the step that holds it.
//   moveToQueue    the .rtr (due now) is written into Queue, then the .eml moved back: tried at once.
//   removeMessage  <id>.eml is removed, then its .rtr, in the order delivery removes a delivered message: a
//                  crash in between leaves an .rtr without a message, which the relay's rescan removes.
//
// Each says 'gone' when the message left meanwhile (delivered, or moved by someone else).
import path from 'node:path';
import { errorCode } from '../util/error-code.js';
import { fsyncDir, renameWithRetry, writeFileDurably } from './durable.js';
import { fileExists, unlinkIfPresent } from './file-ops.js';
import type { MailrootLayout } from './layout.js';
import { STATE_SUFFIX } from './queue-names.js';
import { dueNowState, formatRetryState, type RetryState } from './retry-state.js';
import { scratchPath } from './scratch.js';

/** The folder a message is to be moved into already has a file of its name: nothing was moved. */
export class NameTakenError extends Error {
  override name = 'NameTakenError';
}

/** A message's files in Queue or Hold: `<id>.eml` and its `<id>.rtr`. */
export interface MessageFiles {
  id: string;
  /** The message file's name as found (`<id>.eml`, or `<id>.EML` from a hand-made file). */
  name: string;
  /** The folder the message is in now. */
  dir: string;
  /** Its retry state as read, if it has one; the new .rtr keeps it, with Next-Attempt now. */
  state: RetryState | undefined;
  /** When it was queued, for a message that has no .rtr yet. */
  queuedAt: Date;
}

const rtrOf = (id: string) => id + STATE_SUFFIX;

async function writeDueNow(layout: MailrootLayout, message: MessageFiles, now: Date): Promise<string> {
  const target = path.join(layout.queue, rtrOf(message.id));
  const state = dueNowState(message.state, message.queuedAt, now);
  await writeFileDurably(scratchPath(layout, message.id, 'rtr'), target, formatRetryState(state));
  return target;
}

/** Makes a message in Queue due now. */
export async function markDueNow(layout: MailrootLayout, message: MessageFiles, now: Date): Promise<'due-now' | 'gone'> {
  const written = await writeDueNow(layout, message, now);
  if (!(await fileExists(path.join(layout.queue, message.name)))) {
    await unlinkIfPresent(written); // delivered (or moved) while we wrote: the .rtr would be an orphan
    return 'gone';
  }
  await fsyncDir(layout.queue);
  return 'due-now';
}

/** Moves a message from Queue into `hold`. Throws NameTakenError when Hold already has its .eml. */
export async function moveToHold(layout: MailrootLayout, hold: string, message: MessageFiles): Promise<'held' | 'gone'> {
  const queue = layout.queue;
  const { id, name } = message;
  if (await fileExists(path.join(hold, name))) throw new NameTakenError(`Hold already has a file ${name}; move it away first`);
  const movedState = await renameIfPresent(path.join(queue, rtrOf(id)), path.join(hold, rtrOf(id)));
  try {
    await renameWithRetry(path.join(queue, name), path.join(hold, name));
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') {
      if (movedState) await renameIfPresent(path.join(hold, rtrOf(id)), path.join(queue, rtrOf(id))).catch(() => undefined);
      throw err;
    }
    if (movedState) await unlinkIfPresent(path.join(hold, rtrOf(id)));
    return 'gone';
  }
  await fsyncDir(hold);
  await fsyncDir(queue);
  return 'held';
}

/** Moves a held message back into Queue, due now. Throws NameTakenError when Queue already has its .eml. */
export async function moveToQueue(layout: MailrootLayout, message: MessageFiles, now: Date): Promise<'released' | 'gone'> {
  const queue = layout.queue;
  const { id, name, dir: hold } = message;
  if (await fileExists(path.join(queue, name))) throw new NameTakenError(`Queue already has a file ${name}; it was not released`);
  const written = await writeDueNow(layout, message, now);
  try {
    await renameWithRetry(path.join(hold, name), path.join(queue, name));
  } catch (err) {
    await unlinkIfPresent(written);
    if (errorCode(err) === 'ENOENT') return 'gone';
    throw err;
  }
  await fsyncDir(queue);
  await unlinkIfPresent(path.join(hold, rtrOf(id)));
  await fsyncDir(hold);
  return 'released';
}

/** Removes a message and its .rtr from the folder it is in. */
export async function removeMessage(message: MessageFiles): Promise<'deleted' | 'gone'> {
  const { id, name, dir } = message;
  const removed = await unlinkIfPresent(path.join(dir, name));
  await unlinkIfPresent(path.join(dir, rtrOf(id)));
  await fsyncDir(dir);
  return removed ? 'deleted' : 'gone';
}

async function renameIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await renameWithRetry(from, to);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}
