// Helpers for Pickup tests: fixture bytes, dropping a file the way a careful writer does, and finding a message
// at the upstream.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ReceivedMessage, Upstream } from './upstream.js';
import { eventually } from './relay.js';

export const FIXTURES = path.resolve(import.meta.dirname, '../../../test/fixtures/pickup');

export function fixture(name: string): Promise<Buffer> {
  return fs.readFile(path.join(FIXTURES, name));
}

/** Writes next to Pickup, then renames into it: the file appears whole, as writers are told to do it. */
export async function dropFile(pickupDir: string, name: string, bytes: Buffer | string): Promise<string> {
  const staging = path.join(path.dirname(pickupDir), `staging-${process.hrtime.bigint()}`);
  await fs.writeFile(staging, bytes);
  const target = path.join(pickupDir, name);
  await fs.rename(staging, target);
  return target;
}

/** The message the upstream received whose bytes contain `marker` (waits for it). */
export async function receivedWith(upstream: Upstream, marker: string, timeoutMs = 20_000): Promise<ReceivedMessage> {
  let found: ReceivedMessage | undefined;
  await eventually(() => (found = upstream.received.find((m) => m.data.includes(marker))) !== undefined, timeoutMs, `a message with ${JSON.stringify(marker)}`);
  return found!;
}

const PICKUP_RECEIVED = /^Received: from mail pickup service by relay\.test \(mailroot\) with Pickup id \S+;\r\n\t[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n/;

/** Splits off the Received: line Pickup adds; fails if it is missing or malformed. */
export function afterPickupReceived(data: Buffer): string {
  const text = data.toString('utf8');
  const match = PICKUP_RECEIVED.exec(text);
  if (!match) throw new Error(`no pickup Received: line at the top of ${JSON.stringify(text.slice(0, 200))}`);
  return text.slice(match[0].length);
}

/** Replaces the generated Message-ID: and Date: values by fixed text after checking their shape. */
export function maskGenerated(text: string): string {
  return text
    .replace(/^Message-ID: <\d{8}T\d{9}Z-[0-9a-z]{4}-[0-9a-f]{10}@relay\.test>\r\n/m, 'Message-ID: <generated>\r\n')
    .replace(/^Date: [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n/m, 'Date: <generated>\r\n');
}
