// The relay's status file, <mailroot>/mailroot.status.json: what `mailroot status` and `mailroot queue` need to
// know about a running relay without any network port. The relay rewrites it about once a second (a temp file
// beside it, then rename; not in SortTemp, whose emptiness after a start is a contract); a relay that stops writes it one last time with `stopped`. A file whose pid is gone
// or that has not been rewritten for STALE_AFTER is a relay that is down (killed, or hung).
import fsp from 'node:fs/promises';
import path from 'node:path';
import { renameWithRetry } from '../spool/durable.js';

export const STATUS_FILE = 'mailroot.status.json';
export const STATUS_INTERVAL = 1000;
/** Older than this, the status file no longer describes a working relay. */
export const STALE_AFTER = 10_000;

export interface SmartHostStatus {
  host: string;
  state: 'up' | 'down' | 'unknown';
  /** When it last changed state (ISO). */
  since: string;
  lastError?: { reply: string; at: string } | undefined;
  /** 'authentication' or 'tls': down for a reason the operator must fix (credentials, certificate). */
  problem?: 'authentication' | 'tls' | undefined;
}

/** A route (the default, or a domain's) as delivery sees it: down while every one of its hosts fails. */
export interface RouteStatus {
  route: string;
  state: 'up' | 'down';
  since: string;
  lastError?: string | undefined;
  /** Messages waiting for it to come back (released at once when it does). */
  held: number;
  /** While down: when it is probed next (ISO). */
  nextProbeAt?: string | undefined;
}

export interface RelayStatus {
  version: string;
  pid: number;
  hostname: string;
  startedAt: string;
  updatedAt: string;
  stopped?: boolean;
  listening: string[];
  smartHosts: SmartHostStatus[];
  /** Routes delivery has used; absent in status files of older versions. */
  routes?: RouteStatus[];
  /** Since start. */
  counts: { accepted: number; delivered: number; deferred: number; failed: number };
  /** Queue names being attempted right now (`mailroot queue` waits for them before moving a file). */
  inFlight: string[];
  /** Messages the relay knows of in Queue. */
  queueKnown: number;
}

export function statusFilePath(root: string): string {
  return path.join(root, STATUS_FILE);
}

export async function writeStatusFile(root: string, status: RelayStatus): Promise<void> {
  const temp = path.join(root, `${STATUS_FILE}.tmp`);
  await fsp.writeFile(temp, JSON.stringify(status, null, 2) + '\n');
  await renameWithRetry(temp, statusFilePath(root));
}

export async function readStatusFile(root: string): Promise<RelayStatus | undefined> {
  try {
    const data = JSON.parse(await fsp.readFile(statusFilePath(root), 'utf8')) as RelayStatus;
    return typeof data.pid === 'number' && typeof data.updatedAt === 'string' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this id exists (one of another user's counts: EPERM). */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type Liveness = { running: true; status: RelayStatus } | { running: false; why: string; status?: RelayStatus | undefined };

/** Whether a relay is running on this mailroot right now, judged by its status file. */
export async function relayLiveness(root: string, now = Date.now()): Promise<Liveness> {
  const status = await readStatusFile(root);
  if (!status) return { running: false, why: 'no status file: the relay is not running (or has never run on this mailroot)' };
  if (status.stopped) return { running: false, why: `the relay stopped at ${status.updatedAt}`, status };
  if (!processIsAlive(status.pid)) return { running: false, why: `the relay (pid ${status.pid}) is gone; last status at ${status.updatedAt}`, status };
  const age = now - Date.parse(status.updatedAt);
  if (age > STALE_AFTER) return { running: false, why: `the relay (pid ${status.pid}) has not updated its status for ${Math.round(age / 1000)} s: hung?`, status };
  return { running: true, status };
}
