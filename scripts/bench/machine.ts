// What the figures were measured on: CPU, cores, memory, Node, OS and the filesystem under the temp folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  tempDir: string;
  filesystem: string;
  /** Load average when the bench started: other work on the machine skews every figure. */
  loadAverage: number[];
  /** Linux pressure stall information, "some" avg60 in %, at the start: CPU and I/O time lost to other work. */
  pressure: { cpu: number | null; io: number | null };
}

/** The "some avg60" figure of /proc/pressure/<kind>: % of the last minute some task waited for it. */
export function pressureOf(kind: 'cpu' | 'io'): number | null {
  try {
    const match = /^some avg10=[\d.]+ avg60=([\d.]+)/m.exec(fs.readFileSync(`/proc/pressure/${kind}`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** The mount holding `dir` (longest mount point that prefixes its real path), from /proc/mounts on Linux. */
function filesystemOf(dir: string): string {
  try {
    const real = fs.realpathSync(dir);
    let best: { point: string; text: string } | undefined;
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, point, type, options] = line.split(' ');
      if (!device || !point || !type) continue;
      const mountPoint = point.replace(/\\040/g, ' ');
      const inside = real === mountPoint || real.startsWith(mountPoint.endsWith('/') ? mountPoint : mountPoint + path.sep);
      if (inside && (!best || mountPoint.length > best.point.length)) {
        const flags = (options ?? '').split(',').filter((o) => /^(data=|barrier|nobarrier|sync|noatime|relatime)/.test(o));
        best = { point: mountPoint, text: `${type} on ${device} (${mountPoint}${flags.length ? ', ' + flags.join(',') : ''})` };
      }
    }
    return best?.text ?? 'unknown';
  } catch {
    return 'unknown (no /proc/mounts)';
  }
}

export function machineInfo(tempDir: string): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    tempDir,
    filesystem: filesystemOf(tempDir),
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
    pressure: { cpu: pressureOf('cpu'), io: pressureOf('io') },
  };
}
