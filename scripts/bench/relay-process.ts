// The relay under test, as a real child process (`mailroot serve`, started by the tests' RelayProcess), so its
// memory and CPU are its own; this adds what the bench measures of it and its log file.
import fs from 'node:fs';
import path from 'node:path';
import { RelayProcess } from '../../test/helpers/relay-process.js';
import { onCleanup } from './cleanup.js';
import { RELAY_NODE_FLAGS } from '../../src/service/service-spec.js';
const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface RelayOptions {
  mailroot: string;
  smartHost: string;
  /** Extra `mailroot serve` flags, e.g. ['--concurrency', '20']. */
  args?: string[];
  logLevel?: string;
  /** Extra node flags, e.g. ['--cpu-prof']. */
  nodeArgs?: string[];
  env?: Record<string, string>;
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

/** The relay with a log file beside its mailroot and its peak memory and CPU sampled; ended by the bench's cleanup. */
export class BenchRelay extends RelayProcess {
  readonly logFile: string;
  #peakRssKb = 0;
  #sampler: NodeJS.Timeout | undefined;
  #lastHwmKb: number | undefined;
  #lastCpu: number | undefined;
  #untrack: () => void = () => undefined;

  private constructor(options: RelayOptions, logFile: string) {
    super({
      mailroot: options.mailroot,
      smartHost: options.smartHost,
      args: ['--log-level', options.logLevel ?? 'info', ...(options.args ?? [])],
      nodeArgs: [...RELAY_NODE_FLAGS, ...(options.nodeArgs ?? [])], // as `npm start` and the service run it
      env: options.env,
      logFile,
      hostname: 'relay.bench',
    });
    this.logFile = logFile;
  }

  /** Spawns the relay on a free loopback port; does not wait for it to listen (see waitForGreeting). */
  static async launch(options: RelayOptions): Promise<BenchRelay> {
    const logFile = path.join(path.dirname(options.mailroot), `${path.basename(options.mailroot)}.relay.log`);
    const relay = new BenchRelay(options, logFile);
    await relay.spawn();
    relay.#sampler = setInterval(() => relay.sample(), 100);
    relay.#sampler.unref();
    relay.#untrack = onCleanup(() => relay.stop(1_000).then(() => undefined));
    return relay;
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

  override waitForGreeting(timeoutMs = process.platform === 'win32' ? 60_000 : 20_000): Promise<number> {
    return super.waitForGreeting(timeoutMs);
  }

  /** The relay's clean stop, killed after `graceMs`. Samples memory one last time first. */
  override async stop(graceMs = 5_000): Promise<number | null> {
    this.#untrack();
    if (this.running) this.sample();
    clearInterval(this.#sampler);
    return super.stop(graceMs);
  }
}
