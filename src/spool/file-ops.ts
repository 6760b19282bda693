// The spool's small file operations: create, write, close, rename, unlink, stat, statfs and fsync.
//
// A trip through libuv's thread pool costs the main thread a queue, a thread wake-up and a completion callback,
// 30-50 us of CPU on the 2-core development VM: more than most of these calls cost when simply made. So on
// Linux and other POSIX systems the calls that only touch memory (a write of a few KB into the page cache,
// close, rename, stat, statfs, opening a folder) run inline on the main thread. The ones that can wait go to the thread
// pool: fsync waits for the disk; creating a file and unlinking one can wait for the filesystem's journal
// (create: 0.1-0.3 ms measured right after an fsync; unlink inline took 20 % of the main thread in scenario 1);
// opening and reading a file already on disk may wait for the disk (a cold backlog after a reboot). Measured
// (create + write 4 KiB + fsync + close + rename + folder fsync, 20 at a time): 90-100 us of main-thread CPU per
// cycle all in the pool, 35-50 us this way.
//
// A caller that knows no other client is waiting (a lone SMTP client sending one small message after another,
// the usual case for mailroot; see Spool.acceptTo) may pass wait = 'inline' to create and fsync on the main
// thread too: it saves three thread hand-offs, whose wake-ups on a virtual machine made up most of the accept
// latency. Deliveries and Pickup wait for that one fsync meanwhile.
//
// The mailroot must be on a local filesystem: an inline call on a network mount that stalls stalls the relay.
//
// On Windows every call goes through the thread pool: closing a newly written file there can wait for a virus
// scanner's on-close scan, which must not stall every SMTP session.
import fs from 'node:fs';
import { promisify } from 'node:util';

let inline = process.platform !== 'win32';

/** Tests run the spool both ways on Linux: `false` is the Windows way (everything in the thread pool). */
export function useInlineFileOps(value: boolean): void {
  inline = value;
}

function call<T>(sync: () => T, threaded: () => Promise<T>): Promise<T> {
  if (!inline) return threaded();
  try {
    return Promise.resolve(sync());
  } catch (err) {
    return Promise.reject(err);
  }
}

const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);
const writevAsync = promisify(fs.writev);
const fsyncAsync = promisify(fs.fsync);
const renameAsync = promisify(fs.rename);
const unlinkAsync = promisify(fs.unlink);
const statAsync = promisify(fs.stat);
const fstatAsync = promisify(fs.fstat);
const readAsync = promisify(fs.read);
const statfsAsync = promisify(fs.statfs);

/** How a call that may wait for the disk is made (see the top of this file). */
export type Wait = 'pool' | 'inline';

/** Spool files are private to the relay's account (POSIX; Windows applies the folder's ACL). */
const FILE_MODE = 0o600;

/** Creates a file for writing and returns its descriptor; `exclusive` fails if it exists. */
export function createFile(file: string, exclusive: boolean, wait: Wait = 'pool'): Promise<number> {
  const flags = exclusive ? 'wx' : 'w';
  if (wait === 'pool') return openAsync(file, flags, FILE_MODE);
  return call(
    () => fs.openSync(file, flags, FILE_MODE),
    () => openAsync(file, flags, FILE_MODE),
  );
}

/** Opens a folder, to fsync it. */
export function openDirectory(dir: string): Promise<number> {
  return call(
    () => fs.openSync(dir, 'r'),
    () => openAsync(dir, 'r'),
  );
}

/** Opens a file that is already on disk for reading. Always in the thread pool: it may wait for the disk. */
export function openExisting(file: string): Promise<number> {
  return openAsync(file, 'r');
}

/** Reads into `buffer` from `position`; returns the bytes read. Always in the thread pool. */
export async function readAt(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  const { bytesRead } = await readAsync(fd, buffer, offset, length, position);
  return bytesRead;
}

/**
 * Up to `length` bytes of a file on disk from `position` (fewer at its end), in a buffer sized to `length`: a
 * caller asking for one byte more than it expects learns whether the file is longer.
 */
export async function readFileRange(file: string, position: number, length: number): Promise<Buffer> {
  const fd = await openExisting(file);
  try {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const bytesRead = await readAt(fd, buffer, filled, length - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await closeFile(fd);
  }
}

/** The open file's size and identity; its inode was read when it was opened. */
export function fstatFile(fd: number): Promise<fs.Stats> {
  return call(
    () => fs.fstatSync(fd),
    () => fstatAsync(fd),
  );
}

export function closeFile(fd: number): Promise<void> {
  return call(
    () => fs.closeSync(fd),
    () => closeAsync(fd),
  );
}

/** Flushes the file (or directory) to disk. */
export function syncFile(fd: number, wait: Wait = 'pool'): Promise<void> {
  if (wait === 'pool') return fsyncAsync(fd);
  return call(
    () => fs.fsyncSync(fd),
    () => fsyncAsync(fd),
  );
}

/** Writes every byte of `buffers` at the file's current position (short writes are continued). */
export async function writeAll(fd: number, buffers: Buffer[]): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  while (rest.length > 0) {
    const pending = rest;
    let written = await call(
      () => fs.writevSync(fd, pending),
      () => writevAsync(fd, pending).then((result) => result.bytesWritten),
    );
    while (rest.length > 0 && written >= rest[0]!.length) written -= rest.shift()!.length;
    if (rest.length > 0 && written > 0) rest[0] = rest[0]!.subarray(written);
  }
}

export function renameFile(from: string, to: string): Promise<void> {
  return call(
    () => fs.renameSync(from, to),
    () => renameAsync(from, to),
  );
}

/** Always in the thread pool: freeing a file's blocks waits for the journal (20 % of the main thread inline). */
export function unlinkFile(file: string): Promise<void> {
  return unlinkAsync(file);
}

/** Bytes available to this process on the filesystem holding `dir` (the superblock's counters). */
export async function freeSpace(dir: string): Promise<number> {
  const stats = await call(
    () => fs.statfsSync(dir),
    () => statfsAsync(dir),
  );
  return Number(stats.bavail) * Number(stats.bsize);
}

export function statFile(file: string): Promise<fs.Stats> {
  return call(
    () => fs.statSync(file),
    () => statAsync(file),
  );
}
