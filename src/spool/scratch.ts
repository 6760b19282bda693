// Temp files in SortTemp: their names, and the copy of a message under new envelope lines.
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BatchedFileWriter } from './batched-writer.js';
import { renameWithRetry } from './durable.js';
import { formatEnvelopeHead, type Envelope } from './eml-format.js';
import { closeFile, createFile, syncFile, unlinkIfPresent } from './file-ops.js';
import type { MailrootLayout } from './layout.js';
import { openBody, type QueuedMessage } from './queued-message.js';

export function tempPath(layout: MailrootLayout, id: string, purpose: string): string {
  return path.join(layout.sortTemp, `${id}.${purpose}.tmp`);
}

/**
 * A temp name for a file about an existing message; unique, as several may be written for one id, by the relay
 * and by a queue command at the same time.
 */
export function scratchPath(layout: MailrootLayout, id: string, purpose: string): string {
  return tempPath(layout, `${id}-${process.pid}-${process.hrtime.bigint()}`, purpose);
}

/** Writes `envelope`'s lines, then the message's bytes, to a new durable temp file. */
export async function copyWithHead(message: QueuedMessage, envelope: Envelope, temp: string): Promise<void> {
  const fd = await createFile(temp, true);
  try {
    await pipeline(openBody(message), new BatchedFileWriter([{ fd, head: formatEnvelopeHead(envelope) }]));
    await syncFile(fd);
  } catch (err) {
    await closeFile(fd).catch(() => undefined);
    await unlinkIfPresent(temp).catch(() => undefined);
    throw err;
  }
  try {
    await closeFile(fd);
  } catch (err) {
    await unlinkIfPresent(temp).catch(() => undefined);
    throw err;
  }
}

/** Renames a finished temp file into place; if that fails, the temp file goes, not left in SortTemp. */
export async function renameOrRemove(temp: string, target: string): Promise<void> {
  try {
    await renameWithRetry(temp, target);
  } catch (err) {
    await unlinkIfPresent(temp).catch(() => undefined);
    throw err;
  }
}
