// Scenario 7, the disk's own limit: cycles of create + write 4 KiB + fsync + rename + directory fsync, the shape
// of the relay's accept path, from N real threads (worker_threads, synchronous calls) into one directory.
import fs from 'node:fs';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { BenchContext, ScenarioResult } from './types.js';
import { nowMs } from './util.js';

interface WorkerInput {
  dir: string;
  index: number;
  cycles: number;
  deadline: number;
  size: number;
}

export interface DiskResult {
  writers: number;
  cycles: number;
  seconds: number;
  perSecond: number;
}

function cycleLoop(input: WorkerInput): { done: number; endedAt: number } {
  const temp = path.join(input.dir, 'SortTemp');
  const queue = path.join(input.dir, 'Queue');
  const data = Buffer.alloc(input.size, 0x61);
  let done = 0;
  while (done < input.cycles && nowMs() < input.deadline) {
    const name = `w${input.index}-${done}`;
    const tempFile = path.join(temp, `${name}.tmp`);
    const fd = fs.openSync(tempFile, 'wx');
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tempFile, path.join(queue, `${name}.eml`));
    if (process.platform !== 'win32') {
      // Windows refuses to flush a folder (EPERM) and NTFS journals the rename: the relay skips it there too.
      const dirFd = fs.openSync(queue, 'r');
      fs.fsyncSync(dirFd);
      fs.closeSync(dirFd);
    }
    done++;
  }
  return { done, endedAt: nowMs() };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.once('message', () => port.postMessage(cycleLoop(workerData as WorkerInput)));
  port.postMessage('ready');
}

/** Runs `cycles` cycles in all, shared by `writers` threads, stopping early after `maxSeconds`. */
export async function measureDisk(dir: string, writers: number, cycles: number, maxSeconds: number, size = 4096): Promise<DiskResult> {
  fs.mkdirSync(path.join(dir, 'SortTemp'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'Queue'), { recursive: true });
  const perWriter = Math.ceil(cycles / writers);
  const workers: Worker[] = [];
  const ready: Array<Promise<void>> = [];
  const done: Array<Promise<{ done: number; endedAt: number }>> = [];
  const deadline = nowMs() + maxSeconds * 1000;
  const start = { at: 0 };
  for (let index = 0; index < writers; index++) {
    const input: WorkerInput = { dir, index, cycles: perWriter, deadline, size };
    const worker = new Worker(new URL(import.meta.url), { workerData: input });
    workers.push(worker);
    let first = true;
    let readyResolve!: () => void;
    ready.push(new Promise((resolve) => (readyResolve = resolve)));
    done.push(
      new Promise((resolve, reject) => {
        worker.on('message', (message: unknown) => {
          if (first) {
            first = false;
            readyResolve();
          } else resolve(message as { done: number; endedAt: number });
        });
        worker.on('error', reject);
      }),
    );
  }
  await Promise.all(ready);
  start.at = nowMs();
  for (const worker of workers) worker.postMessage('go');
  const results = await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
  const total = results.reduce((sum, r) => sum + r.done, 0);
  const seconds = (Math.max(...results.map((r) => r.endedAt)) - start.at) / 1000;
  return { writers, cycles: total, seconds, perSecond: total / seconds };
}

/** Scenario 7 as a bench result: 1 writer, then `writers` concurrent writers, each into a fresh folder. */
export async function runDiskScenario(ctx: BenchContext, writers: number): Promise<ScenarioResult> {
  const { diskCycles, diskSeconds, size } = ctx.options;
  const started = nowMs();
  const base = path.join(ctx.runDir, 's7-disk');
  try {
    ctx.progress(`scenario 7: disk cycles, 1 writer`);
    const one = await measureDisk(path.join(base, 'one'), 1, Math.max(1, Math.round(diskCycles / 3)), diskSeconds, size);
    ctx.progress(`scenario 7: disk cycles, ${writers} writers`);
    const many = await measureDisk(path.join(base, 'many'), writers, diskCycles, diskSeconds, size);
    return {
      id: 7,
      title: 'Disk reference: create+write+fsync+rename+dir fsync',
      status: 'ok',
      seconds: Math.round((nowMs() - started) / 100) / 10,
      params: { size, writers, 'cycles (1 writer)': one.cycles, [`cycles (${writers} writers)`]: many.cycles, 'max seconds each': diskSeconds },
      figures: {
        '1 writer, cycles/s': Math.round(one.perSecond),
        [`${writers} writers, cycles/s`]: Math.round(many.perSecond),
      },
      targets: [],
    };
  } finally {
    if (!ctx.options.keep) fs.rmSync(base, { recursive: true, force: true });
  }
}
