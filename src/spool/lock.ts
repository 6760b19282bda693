// One relay per mailroot. Two relays on one Queue would each deliver every message (they claim nothing from
// each other), so the second one refuses to start.
//
// The lock is held by the operating system for the life of the process, never inferred from a PID:
// - Linux: an abstract unix socket ("\0mailroot-<hash>"), which has no file: the kernel frees the name when the
//   process dies, however it dies (kill -9 included), and bind() is atomic, so of two relays started together
//   exactly one gets it. There is no stale state for them to race on.
// - Windows: mailroot.lock opened with share mode 0 (libuv's UV_FS_O_EXLOCK), the "exclusive share mode" lock:
//   every other open of the file fails (EBUSY) until the handle is closed, which Windows does when the process
//   ends. (A named pipe created with FILE_FLAG_FIRST_PIPE_INSTANCE would do on Windows too, but Wine, which the
//   CI uses, lets a second one be created; share modes it enforces.)
// - Other POSIX systems (macOS, the BSDs: development only): a unix socket file in the mailroot. A file can be
//   left behind by kill -9; it is taken over when nothing answers on it. Two relays starting at the same moment
//   on such a leftover may both run there.
// Node has no flock(); the libraries that add it (fs-ext and the like) are native addons, which the planned
// single-executable release cannot carry, and the lock-file libraries without one (proper-lockfile) guess
// staleness from modification times. A socket is Node's own API, and the OS releases it as it would a flock.
//
// On Linux the name's hash includes a random key kept in mailroot.lock-key, a file only the relay's account can
// read (the mailroot is 0711, the key 0600): another local user cannot work out the name and hold it first to
// keep the relay from starting. The key is created once, atomically (written to a temp file, then hard-linked into place:
// of two relays creating it at once, both end up reading the same key), and never changed. Deleting it while a
// relay runs would let a second one start: do not.
//
// mailroot.lock says which process holds the lock, for people; nothing reads it to decide anything (on Windows
// it cannot be read while the relay runs: that is the lock).
import { randomBytes, createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { errorCode } from '../util/error-code.js';

export class MailrootLockedError extends Error {
  override name = 'MailrootLockedError';
}

const KEY_FILE = 'mailroot.lock-key';
const PID_FILE = 'mailroot.lock';

/** libuv's UV_FS_O_EXLOCK on Windows (Node does not export it): open with share mode 0. */
const WINDOWS_EXCLUSIVE = 0x10000000;

export class MailrootLock {
  readonly file: string;
  readonly #release: () => Promise<void>;

  private constructor(file: string, release: () => Promise<void>) {
    this.file = file;
    this.#release = release;
  }

  static async acquire(root: string): Promise<MailrootLock> {
    const file = path.join(root, PID_FILE);
    if (process.platform === 'win32') return MailrootLock.#acquireExclusiveFile(root, file);
    const key = await readOrCreateKey(path.join(root, KEY_FILE));
    const { dev, ino } = await fs.stat(root);
    const hash = createHash('sha256').update(`${key}\n${dev}\n${ino}`).digest('hex').slice(0, 40);
    const { address, socketFile } = lockAddress(root, hash);
    let server: net.Server;
    try {
      server = await listen(address);
    } catch (err) {
      if (errorCode(err) !== 'EADDRINUSE') throw err;
      if (!socketFile || (await answers(address))) throw await lockedError(root, file);
      await fs.rm(socketFile, { force: true }); // left behind by a relay that died (POSIX fallback only)
      try {
        server = await listen(address);
      } catch (again) {
        if (errorCode(again) === 'EADDRINUSE') throw await lockedError(root, file);
        throw again;
      }
    }
    await fs.writeFile(file, `${process.pid}\r\n`, { mode: 0o644 }).catch(() => undefined); // for people only
    return new MailrootLock(file, async () => {
      const pid = await fs.readFile(file, 'utf8').catch(() => '');
      if (Number.parseInt(pid, 10) === process.pid) await fs.rm(file, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (socketFile) await fs.rm(socketFile, { force: true });
    });
  }

  async release(): Promise<void> {
    await this.#release();
  }

  /** Windows: the PID file itself, held open with share mode 0 for the life of the process. */
  static async #acquireExclusiveFile(root: string, file: string): Promise<MailrootLock> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, fsConstants.O_RDWR | fsConstants.O_CREAT | WINDOWS_EXCLUSIVE, 0o644);
    } catch (err) {
      if (errorCode(err) === 'EBUSY') throw await lockedError(root, file); // a sharing violation: held
      throw err;
    }
    try {
      await handle.truncate(0);
      await handle.write(`${process.pid}\r\n`, 0);
    } catch {
      // the PID is for people only
    }
    return new MailrootLock(file, async () => {
      await handle.close();
      await fs.rm(file, { force: true });
    });
  }
}

function lockAddress(root: string, hash: string): { address: string; socketFile: string | undefined } {
  if (process.platform === 'linux') return { address: `\0mailroot-${hash}`, socketFile: undefined };
  const socketFile = path.join(root, 'mailroot.lock.sock');
  return { address: socketFile, socketFile };
}

function listen(address: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // Whoever connects is hung up on: the socket exists to be held, not to talk.
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(address, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      server.unref(); // holding the lock must not keep the process alive
      resolve(server);
    });
  });
}

/** Whether a relay answers on the socket file (POSIX fallback): ECONNREFUSED means it was left behind. */
function answers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(address);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err) => resolve(errorCode(err) !== 'ECONNREFUSED' && errorCode(err) !== 'ENOENT'));
  });
}

async function lockedError(root: string, file: string): Promise<MailrootLockedError> {
  const pid = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
  const holder = Number.isInteger(pid) && pid > 0 ? `process ${pid}` : 'another process';
  return new MailrootLockedError(
    `mailroot ${root} is in use by ${holder} (the lock is held by the operating system and released when that ` +
      'process ends); run one relay per mailroot',
  );
}

/** The mailroot's lock key: read, or created once (a temp file hard-linked into place, so never half-written). */
async function readOrCreateKey(keyFile: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const existing = await fs.readFile(keyFile, 'utf8').catch((err: unknown) => {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    });
    if (existing !== undefined && /^[0-9a-f]{64}\s*$/.test(existing)) return existing.trim();
    if (existing !== undefined) {
      // Damaged by hand, or (filesystems without hard links only) caught half-written by the other starter.
      if (attempt < 20) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      throw new MailrootLockedError(`${keyFile} is not a lock key; delete it while no relay runs on this mailroot`);
    }
    const temp = `${keyFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(temp, `${randomBytes(32).toString('hex')}\r\n`, { mode: 0o600, flag: 'wx' });
    try {
      await fs.link(temp, keyFile);
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'EEXIST' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
      // EEXIST: another relay made it first; it is read above. No hard links here (FAT, some shares): create it
      // exclusively instead, which a reader may catch empty for a moment (retried above).
      if (code !== 'EEXIST') await fs.copyFile(temp, keyFile, fs.constants.COPYFILE_EXCL).catch(() => undefined);
    } finally {
      await fs.rm(temp, { force: true });
    }
  }
}
