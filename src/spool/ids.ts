// Message ids: unique across restarts and processes, sortable by arrival time, never built from client input.
import crypto from 'node:crypto';

let counter = 0;

/** e.g. 20261130T041128123Z-0001-9f3ac2e1d0 : UTC time to the millisecond, per-process counter, 40 random bits. */
export function newMessageId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', ''); // 20261130T041128123Z
  counter = (counter + 1) % 1_679_616; // 36^4
  return `${stamp}-${counter.toString(36).padStart(4, '0')}-${crypto.randomBytes(5).toString('hex')}`;
}
