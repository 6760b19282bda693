// Message ids: unique across restarts and processes, sortable by arrival time, never built from client input.
import crypto from 'node:crypto';

let counter = 0;

/** e.g. 20261130T041128123Z-0001-9f3ac2e1d0 : UTC time to the millisecond, per-process counter, 40 random bits. */
export function newMessageId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', ''); // 20261130T041128123Z
  counter = (counter + 1) % 1_679_616; // 36^4
  return `${stamp}-${counter.toString(36).padStart(4, '0')}-${crypto.randomBytes(5).toString('hex')}`;
}

/** The accept time a message id holds; undefined for a name that is not one of these ids. */
export function timeOfId(id: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-/.exec(id);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
