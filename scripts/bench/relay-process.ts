// The relay under test, as a real child process (`mailroot serve`), so its memory and CPU are its own.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import { freePort, nowMs, sleep } from './util.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const CLOCK_TICKS = 100; // USER_HZ on Linux
/**
 * Node flags the relay runs with, as `npm start` and the README's service command run it: a 4 MB young
 * generation instead of V8's 16 MB keeps peak RSS about 25 MB lower at the same throughput.
 */
const RELAY_NODE_ARGS = ['--max-semi-space-size=4'];

export interface RelayOptions {
  mailroot: string;
  smartHost: string;
  /** Extra `mailroot serve` flags, e.g. ['--concurrency', '20']. */
  args?: string[];
  logLevel?: string;
  /** Extra node flags, e.g. ['--cpu-prof']. */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface MemorySample {
  rssKb: number | undefined;
  hwmKb: number | undefined;
}

/** VmRSS and VmHWM (peak RSS) from /proc; undefined where there is no /proc (macOS, Windows). */
export function memoryOf(pid: number): MemorySample {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return match ? Number(match[1]) : undefined;
    };
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  } catch {
    return { rssKb: undefined, hwmKb: undefined };
  }
}

/** User + system CPU seconds the process has used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
  } catch {
    return undefined;
  }
}

export class RelayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly mailroot: string;
  readonly logFile: string;
  readonly spawnedAt: number;
  #peakRssKb = 0;
  #sampler: NodeJS.Timeout;
  #lastHwmKb: number | undefined;
  #lastCpu: number | undefined;
  readonly #untrack: () => void;

  private constructor(child: ChildProcess, port: number, mailroot: string, logFile: string, spawnedAt: number) {
    this.child = child;
    this.port = port;
    this.mailroot = mailroot;
    this.logFile = logFile;
    this.spawnedAt = spawnedAt;
    this.#sampler = setInterval(() => this.sample(), 100);
    this.#sampler.unref();
    this.#untrack = onCleanup(() => this.stop(1_000));
  }

  /** Spawns the relay on a free loopback port; does not wait for it to listen (see waitForGreeting). */
  static async spawn(options: RelayOptions): Promise<RelayProcess> {
    const port = await freePort();
    const logFile = path.join(path.dirname(options.mailroot), `${path.basename(options.mailroot)}.relay.log`);
    const log = fs.openSync(logFile, 'a');
    const args = [
      ...RELAY_NODE_ARGS,
      ...(options.nodeArgs ?? []),
      MAIN,
      'serve',
      '--mailroot', options.mailroot,
      '--listen', `127.0.0.1:${port}`,
      '--smart-host', options.smartHost,
      '--hostname', 'relay.bench',
      '--log-level', options.logLevel ?? 'info',
      ...(options.args ?? []),
    ];
    const spawnedAt = nowMs();
    const child = spawn(process.execPath, args, { stdio: ['ignore', log, log], env: { ...process.env, ...options.env } });
    fs.closeSync(log);
    return new RelayProcess(child, port, options.mailroot, logFile, spawnedAt);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Reads memory now; keeps the highest RSS seen. */
  sample(): MemorySample {
    const memory = memoryOf(this.pid);
    if (memory.rssKb !== undefined) this.#peakRssKb = Math.max(this.#peakRssKb, memory.rssKb);
    if (memory.hwmKb !== undefined) this.#lastHwmKb = memory.hwmKb;
    const cpu = cpuSecondsOf(this.pid);
    if (cpu !== undefined) this.#lastCpu = cpu;
    return memory;
  }

  /** Peak RSS in kB: the kernel's VmHWM when readable, else the highest sample. */
  get peakRssKb(): number | undefined {
    return this.#lastHwmKb ?? (this.#peakRssKb || undefined);
  }

  get cpuSeconds(): number | undefined {
    return this.#lastCpu;
  }

  /** Connects until the relay sends its 220 greeting; returns when that happened (nowMs clock). */
  async waitForGreeting(timeoutMs = process.platform === 'win32' ? 60_000 : 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`relay exited with ${this.child.exitCode ?? this.child.signalCode}; see ${this.logFile}`);
      const at = await greeting(this.port).catch(() => undefined);
      if (at !== undefined) return at;
      await sleep(5);
    }
    throw new Error(`relay did not greet within ${timeoutMs} ms; see ${this.logFile}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Samples memory one last time first. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#untrack();
    this.sample();
    clearInterval(this.#sampler);
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(graceMs)]);
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}

function greeting(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no greeting'));
    }, 2_000);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      const at = nowMs();
      socket.end('QUIT\r\n');
      socket.destroy();
      if (chunk.toString('latin1').startsWith('220')) resolve(at);
      else reject(new Error('not a 220 greeting'));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
