// Fault injection for the fault suite, armed with MR_FAILPOINT=<name> in the environment. Without it, each call
// is one comparison. The variable is deliberately outside the MAILROOT_* namespace, which holds configuration only.
//
// Crash points: the process kills itself (SIGKILL, no cleanup) the first time it reaches the point.
// Stall points: the first time, the next fsync (or rename) that file-ops.ts makes blocks the thread that makes
// it for MR_STALL_MS (default 2000), as a disk that hangs would: the thread is really blocked, not a timer. A test
// may end the stall sooner by opening the stall's FIFO (mr-stall-*/fifo under the relay's TMPDIR) for writing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const FAILPOINTS = [
  'accept-after-write', // message written to SortTemp, not yet fsynced
  'accept-after-fsync', // fsynced, not yet renamed into Queue
  'accept-after-rename', // in Queue, the client has not had its 250
  'deliver-after-upstream-250', // the smart host accepted it, the file is still in Queue
  'badmail-after-report', // the .bdr is written, the message (or Pickup claim) has not moved yet
  'stall-accept-fsync', // the fsync of an accepted message's temp file hangs for MR_STALL_MS
  'stall-accept-rename', // the rename of an accepted message into Queue hangs for MR_STALL_MS
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

/** The file operations a stall point can hang. */
export type StalledOp = 'fsync' | 'rename';

const STALLS: Partial<Record<Failpoint, StalledOp>> = { 'stall-accept-fsync': 'fsync', 'stall-accept-rename': 'rename' };

let armed = process.env.MR_FAILPOINT;
/** The operation the next call of which must hang, set by a stall point until file-ops takes it. */
let pendingStall: StalledOp | undefined;

export function failpoint(name: Failpoint): void {
  if (armed !== name) return;
  const op = STALLS[name];
  if (!op) process.kill(process.pid, 'SIGKILL');
  armed = undefined; // once
  pendingStall = op;
}

/** A hang a stall point asked for: its length, and a folder under os.tmpdir() that exists while it lasts. */
export interface Stall {
  ms: number;
  dir: string;
}

/**
 * For file-ops.ts, before it makes `op`: the hang a stall point asked for, once. The stall point is reached
 * synchronously just before the operation is called, so the next call is its one. The folder (mr-stall-*) is
 * made here, so a test sees the stall begin whichever thread it then blocks.
 */
export function takeStall(op: StalledOp): Stall | undefined {
  if (pendingStall !== op) return undefined;
  pendingStall = undefined;
  const ms = Number(process.env.MR_STALL_MS ?? 2000);
  return { ms: Number.isFinite(ms) && ms > 0 ? ms : 2000, dir: fs.mkdtempSync(path.join(os.tmpdir(), 'mr-stall-')) };
}

/**
 * Blocks one thread of libuv's pool (where file-ops makes its calls) for the stall's time: the pool thread opens
 * a FIFO for reading, which blocks in open(2) until a writer comes; a timer opens it for writing. POSIX only.
 */
export function stallPoolThread(stall: Stall): Promise<void> {
  const done = () => fs.rmSync(stall.dir, { recursive: true, force: true });
  if (process.platform === 'win32') {
    done();
    return Promise.reject(new Error('stall failpoints need mkfifo (POSIX)'));
  }
  const fifo = path.join(stall.dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const opened = new Promise<number>((resolve, reject) => fs.open(fifo, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
  let timer: NodeJS.Timeout | undefined;
  const release = () => {
    try {
      fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    } catch (err) {
      // ENXIO: the pool thread has not reached open(2) yet. Anything else (the folder gone): the stall is over.
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') timer = setTimeout(release, 10);
    }
  };
  timer = setTimeout(release, stall.ms);
  return opened.then((fd) => {
    clearTimeout(timer); // a test may have ended the stall first
    fs.closeSync(fd);
    done();
  });
}
