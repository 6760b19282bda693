// One relay per mailroot. Two relays on one Queue would each deliver every message (they claim nothing from
// each other), so the second one refuses to start. A lock left by a killed relay is taken over.
import fs from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from './durable.js';

export class MailrootLockedError extends Error {
  override name = 'MailrootLockedError';
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

export class MailrootLock {
  readonly file: string;

  private constructor(file: string) {
    this.file = file;
  }

  static async acquire(root: string): Promise<MailrootLock> {
    const file = path.join(root, 'mailroot.lock');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await fs.open(file, 'wx');
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return new MailrootLock(file);
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') throw err;
      }
      const owner = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner > 0 && processIsAlive(owner)) {
        throw new MailrootLockedError(
          `mailroot ${root} is in use by process ${owner} (lock file ${file}); ` +
            'run one relay per mailroot, or delete the lock file if that process is not a relay',
        );
      }
      await fs.rm(file, { force: true }); // stale: its owner is gone
    }
    throw new MailrootLockedError(`cannot take the lock file ${file}`);
  }

  async release(): Promise<void> {
    await fs.rm(this.file, { force: true });
  }
}
