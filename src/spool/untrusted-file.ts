// Opening a file that someone else may have put there (Pickup above all, and Queue, where operators move
// files in): once, without following a link, without blocking, and only if it is a regular file with one name.
// Everything after that is read from the descriptor, never by path again, so the file cannot be swapped for a
// link or a named pipe between a check and a read.
//
// POSIX: O_NOFOLLOW makes open() fail (ELOOP) on a symbolic link; O_NONBLOCK makes open() return at once on a
// named pipe or a device instead of parking a thread-pool thread until a writer appears (it does nothing to
// reads of a regular file). fstat on the descriptor then says what was opened.
//
// Windows has neither flag in Node. There the path is lstat'ed first (a symbolic link or junction is refused),
// then opened, then fstat'ed, and the two identities (volume serial and file index, Node's dev and ino) must be
// equal: a link swapped in between the two calls is caught, though the open itself has then gone through it.
// Windows has no named pipes in the file system (they live under \\.\pipe\), so an open of a path in Pickup
// cannot wait for a writer the way a FIFO does on POSIX.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';

const openAsync = promisify(fs.open);
const fstatAsync = promisify(fs.fstat);
const lstatAsync = promisify(fs.lstat);
const closeAsync = promisify(fs.close);
const readAsync = promisify(fs.read);

const isWindows = process.platform === 'win32';
const NOFOLLOW_NONBLOCK = isWindows ? 0 : (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

/** The file is not one mailroot will read: a link, a pipe, a folder, or a file with other names. */
export class UntrustedFileError extends Error {
  override name = 'UntrustedFileError';
}

export interface UntrustedFile {
  fd: number;
  stats: fs.Stats;
}

/**
 * Opens `file` for reading if it is a regular file with a single link. Throws UntrustedFileError (with the
 * reason) for anything else, and the usual errno errors (ENOENT, EACCES, ...) otherwise.
 */
export async function openUntrusted(file: string): Promise<UntrustedFile> {
  let before: fs.Stats | undefined;
  if (isWindows) {
    before = await lstatAsync(file);
    refuse(before);
  }
  let fd: number;
  try {
    fd = await openAsync(file, fs.constants.O_RDONLY | NOFOLLOW_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Linux and the BSDs say ELOOP for O_NOFOLLOW on a link; some systems say EMLINK or EFTYPE.
    if (code === 'ELOOP' || code === 'EMLINK' || code === 'EFTYPE') throw new UntrustedFileError('a symbolic link, not a regular file: not read, its target left alone');
    if (code === 'ENXIO') throw new UntrustedFileError('a named pipe or socket with no other end, not a regular file: not read');
    throw err;
  }
  try {
    const stats = await fstatAsync(fd);
    refuse(stats);
    if (before && (before.ino !== stats.ino || before.dev !== stats.dev)) {
      throw new UntrustedFileError('the file was replaced while it was being opened: not read');
    }
    return { fd, stats };
  } catch (err) {
    await closeAsync(fd).catch(() => undefined);
    throw err;
  }
}

function refuse(stats: fs.Stats): void {
  if (stats.isSymbolicLink()) throw new UntrustedFileError('a symbolic link, not a regular file: not read, its target left alone');
  if (stats.isFIFO()) throw new UntrustedFileError('a named pipe, not a regular file: not read');
  if (stats.isDirectory()) throw new UntrustedFileError('a folder, not a message file');
  if (!stats.isFile()) throw new UntrustedFileError('not a regular file (a device or socket): not read');
  if (stats.nlink > 1) {
    throw new UntrustedFileError(`a hard link: the file has ${stats.nlink} names, so it is also elsewhere; not read, the other names left alone`);
  }
}

/** Reads up to `length` bytes at `position` into a new buffer (shorter at the end of the file). */
export async function readFromFd(fd: number, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await readAsync(fd, buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

export function closeUntrusted(fd: number): Promise<void> {
  return closeAsync(fd);
}

/**
 * The file's bytes from `start` as a stream of positional reads on `fd`. The stream never closes the descriptor
 * (its opener does, once): a destroyed fs.ReadStream closes its fd, and a number closed twice may by then be
 * another file's. It is 'close'd only once no read is in flight, so the opener may close the fd after that.
 * A read error carries `path` (the file's name for the caller's messages).
 */
export function fdStream(fd: number, path: string, start: number, chunkSize: number): Readable {
  return new FdReadable(fd, path, start, chunkSize);
}

/**
 * Opens `file` with openUntrusted when first read and streams it from `start`; the descriptor is closed with the
 * stream. `ino`: the identity the caller read before; another file under the same name fails the stream.
 */
export function untrustedStream(file: string, start: number, chunkSize: number, ino?: number): Readable {
  return new FdReadable(undefined, file, start, chunkSize, ino);
}

class FdReadable extends Readable {
  #fd: number;
  readonly #path: string;
  readonly #chunkSize: number;
  /** Opened by this stream (so closed by it too), and the identity the file must have. */
  readonly #own: { ino: number | undefined } | undefined;
  #position: number;
  #reading: Promise<void> | undefined;

  constructor(fd: number | undefined, path: string, start: number, chunkSize: number, ino?: number) {
    super({ highWaterMark: chunkSize });
    this.#fd = fd ?? -1;
    this.#own = fd === undefined ? { ino } : undefined;
    this.#path = path;
    this.#position = start;
    this.#chunkSize = chunkSize;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    if (!this.#own) return callback();
    const expected = this.#own.ino;
    openUntrusted(this.#path).then(
      ({ fd, stats }) => {
        this.#fd = fd;
        if (expected !== undefined && stats.ino !== expected) {
          return callback(Object.assign(new Error(`${this.#path} was replaced by another file`), { code: 'ENOENT' }));
        }
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _read(): void {
    const buffer = Buffer.allocUnsafe(this.#chunkSize);
    this.#reading = readAsync(this.#fd, buffer, 0, buffer.length, this.#position).then(
      ({ bytesRead }) => {
        this.#reading = undefined;
        if (this.destroyed) return;
        this.#position += bytesRead;
        this.push(bytesRead === 0 ? null : buffer.subarray(0, bytesRead));
      },
      (err: NodeJS.ErrnoException) => {
        this.#reading = undefined;
        err.path ??= this.#path;
        this.destroy(err);
      },
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    const done = (): void => {
      if (!this.#own || this.#fd < 0) return callback(err);
      const fd = this.#fd;
      this.#fd = -1;
      closeAsync(fd).then(() => callback(err), () => callback(err));
    };
    const reading = this.#reading;
    if (!reading) return done();
    reading.then(done, done);
  }
}
