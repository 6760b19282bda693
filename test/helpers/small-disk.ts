// A 1 MB tmpfs to use as a mailroot, so the disk really fills up. Needs root on Linux; elsewhere `skip` says why.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';

export interface SmallDisk {
  mountPoint: string | undefined;
  skip: string | false;
}

/** Mounts the tmpfs before the file's tests and unmounts it after them. */
export function smallDisk(prefix: string): SmallDisk {
  const disk: SmallDisk = { mountPoint: undefined, skip: false };
  before(async () => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      disk.skip = 'needs root on Linux to mount a small tmpfs';
      return;
    }
    const mountPoint = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
      disk.mountPoint = mountPoint;
    } catch (err) {
      disk.skip = `cannot mount tmpfs here: ${(err as Error).message}`;
      await fs.rmdir(mountPoint);
    }
  });
  after(async () => {
    if (!disk.mountPoint) return;
    execFileSync('umount', ['-l', disk.mountPoint]); // lazy: detached at once, so its folder can go too
    await fs.rmdir(disk.mountPoint);
  });
  return disk;
}
