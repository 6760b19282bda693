// The spool's small file operations: create, write, close, rename, unlink, stat, statfs, fsync and reads.
//
// Every one runs in libuv's thread pool, never on the main thread, on every platform. Any of them can wait for
// the disk: fsync always; create, rename, close and unlink when the filesystem's journal is busy; a write when
// the kernel throttles dirty pages; stat and statfs on a cold inode or a hung mount; on Windows a close waits for
// a virus scanner's on-close scan. On a disk that stalls (a SAN hiccup, a VM's noisy neighbour) one such call
// made inline would stop every SMTP session, timer and delivery; in the pool it holds one pool thread and the
// one message it belongs to (test/fault/disk-stall.test.ts). The hand-off to the pool costs a little CPU per
// call; the bench's ratios against Postfix include it.
import fs from 'node:fs';
import { promisify } from 'node:util';
import { stallPoolThread, takeStall, type StalledOp } from '../failpoints.js';
import { errorCode } from '../util/error-code.js';

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

/** Runs `op` in the pool, after the hang a stall failpoint asked for (which then holds a pool thread too). */
function pooled<T>(kind: StalledOp, op: () => Promise<T>): Promise<T> {
  const stall = takeStall(kind);
  return stall ? stallPoolThread(stall).then(op) : op();
}

/** Spool files are private to the relay's account (POSIX; Windows applies the folder's ACL). */
const FILE_MODE = 0o600;

/** Creates a file for writing and returns its descriptor; `exclusive` fails if it exists. */
export function createFile(file: string, exclusive: boolean): Promise<number> {
  return openAsync(file, exclusive ? 'wx' : 'w', FILE_MODE);
}

/** Opens a folder, to fsync it. */
export function openDirectory(dir: string): Promise<number> {
  return openAsync(dir, 'r');
}

/** Opens a file that is already on disk for reading. */
export function openExisting(file: string): Promise<number> {
  return openAsync(file, 'r');
}

/** Reads into `buffer` from `position`; returns the bytes read. */
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
  return fstatAsync(fd);
}

export function closeFile(fd: number): Promise<void> {
  return closeAsync(fd);
}

/** Flushes the file (or directory) to disk. */
export function syncFile(fd: number): Promise<void> {
  return pooled('fsync', () => fsyncAsync(fd));
}

/** Writes every byte of `buffers` at the file's current position (short writes are continued). */
export async function writeAll(fd: number, buffers: Buffer[]): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  while (rest.length > 0) {
    const pending = rest;
    let { bytesWritten: written } = await writevAsync(fd, pending);
    while (rest.length > 0 && written >= rest[0]!.length) written -= rest.shift()!.length;
    if (rest.length > 0 && written > 0) rest[0] = rest[0]!.subarray(written);
  }
}

export function renameFile(from: string, to: string): Promise<void> {
  return pooled('rename', () => renameAsync(from, to));
}

export function unlinkFile(file: string): Promise<void> {
  return unlinkAsync(file);
}

/** Bytes available to this process on the filesystem holding `dir` (the superblock's counters). */
export async function freeSpace(dir: string): Promise<number> {
  const stats = await statfsAsync(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}

export function statFile(file: string): Promise<fs.Stats> {
  return statAsync(file);
}

/** Removes a file; one already gone is fine. Returns whether this call removed it. */
export async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await unlinkFile(file);
    return true;
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    return false;
  }
}

/** Whether `file` exists (anything at that path: a file, a folder, a link). */
export function fileExists(file: string): Promise<boolean> {
  return fs.promises.access(file).then(
    () => true,
    () => false,
  );
}
