// The filesystem steps that make a write survive a crash, and the Windows quirks around them.
import fs from 'node:fs/promises';
import { closeFile, createFile, openDirectory, renameFile, syncFile, writeAll } from './file-ops.js';
import { setTimeout as sleep } from 'node:timers/promises';

const isWindows = process.platform === 'win32';

/**
 * Flushes a directory entry (a rename or an unlink made before the call) to disk. POSIX only: Windows refuses
 * to open a directory for flushing (EPERM) and NTFS journals the rename itself. Concurrent calls for one
 * directory share fsyncs (group commit, see DirectorySync), so each still resolves only once its own change
 * is durable.
 */
export function fsyncDir(dir: string): Promise<void> {
  if (isWindows) return Promise.resolve();
  let sync = directorySyncs.get(dir);
  if (!sync) {
    sync = new DirectorySync(dir);
    directorySyncs.set(dir, sync);
  }
  return sync.sync();
}

/** One per directory path (the mailroot's few folders). */
const directorySyncs = new Map<string, DirectorySync>();

async function fsyncDirNow(dir: string): Promise<void> {
  const fd = await openDirectory(dir);
  try {
    await syncFile(fd);
  } finally {
    await closeFile(fd);
  }
}

/**
 * Group commit for one directory's fsync. Each caller has already made its change (a rename or an unlink) and
 * needs an fsync of the directory that *started* after that change. Concurrent callers share one: if none is
 * running, one starts now; if one is running (it may have started before the caller's change), the caller
 * waits for the next one, which starts when the running one ends and serves everyone who asked meanwhile.
 * So N concurrent accepts cost about 2 directory fsyncs instead of N, and none resolves before its own entry
 * is durable. A failure is reported to every caller that shared the failed fsync.
 */
export class DirectorySync {
  readonly dir: string;
  readonly #flush: (dir: string) => Promise<void>;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  /** `flush` is the real directory fsync; tests pass a stand-in to watch the order of calls. */
  constructor(dir: string, flush: (dir: string) => Promise<void> = fsyncDirNow) {
    this.dir = dir;
    this.#flush = flush;
  }

  sync(): Promise<void> {
    if (!this.#running) return this.#start();
    this.#next ??= this.#running.then(noop, noop).then(() => {
      this.#next = undefined;
      return this.#start();
    });
    return this.#next;
  }

  #start(): Promise<void> {
    const run = this.#flush(this.dir).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }
}

function noop(): void {}

// Another program holding the file open (a writer, an antivirus scanner, the search indexer) makes a rename
// fail on Windows with EBUSY, EPERM or EACCES. Those pass; anything else is a real error.
const TRANSIENT_RENAME_CODES = new Set(isWindows ? ['EBUSY', 'EPERM', 'EACCES'] : ['EBUSY']);

export function isTransientRenameError(err: unknown): boolean {
  return TRANSIENT_RENAME_CODES.has((err as NodeJS.ErrnoException).code ?? '');
}

/** rename() with a short, bounded back-off for the transient Windows errors. Never falls back to copy. */
export async function renameWithRetry(from: string, to: string, attempts = 6): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await renameFile(from, to);
      return;
    } catch (err) {
      if (attempt >= attempts || !isTransientRenameError(err)) throw err;
      await sleep(25 * 2 ** attempt);
    }
  }
}

/**
 * Writes a small file durably: temp file, fsync, rename to target. The target's folder is not fsynced here;
 * callers that need the new name itself to survive a power cut call fsyncDir.
 */
export async function writeFileDurably(tempPath: string, target: string, data: string | Buffer): Promise<void> {
  try {
    const fd = await createFile(tempPath, false);
    try {
      await writeAll(fd, [typeof data === 'string' ? Buffer.from(data) : data]);
      await syncFile(fd);
    } finally {
      await closeFile(fd);
    }
    await renameWithRetry(tempPath, target);
  } catch (err) {
    // Every failure (a full disk fails the write, the fsync or the close) removes the temp file: a retry loop
    // on a full disk once left thousands in SortTemp.
    await fs.rm(tempPath, { force: true }).catch(() => undefined);
    throw err;
  }
}
