// The real relay as a child process (`mailroot serve`): tests kill -9 it and start it again on the same mailroot;
// the benchmark (scripts/bench/relay-process.ts) measures its memory and CPU. The one place that starts it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { STOP_MESSAGE } from '../../src/cli/stop-requests.js';
import { unusedPort } from './ports.js';

/**
 * A hang guard, not a speed check. Windows' node.exe under Wine on a loaded 2-core machine took 7 s to run
 * `node -e 0` and 18 s to start the CLI and refuse a bad flag (load average 20), hence the longer bound there; on
 * Linux a relay took over 15 s to listen at a load average of 9.
 */
export const START_LIMIT_MS = process.platform === 'win32' ? 90_000 : 30_000;

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const RETRY_CONNECT_MS = 25;

/** Milliseconds since the epoch with sub-millisecond resolution; comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface RelayProcessOptions {
  mailroot: string;
  smartHost: string;
  /** The loopback port to listen on; a free one when left out. */
  port?: number;
  /** Extra `mailroot serve` flags, e.g. ['--retry', '1s']. */
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Node flags for the relay, e.g. ['--max-semi-space-size=4']. */
  nodeArgs?: string[];
  /** Append the relay's stdout and stderr to this file; without it, `stderr` keeps the last 64 KiB. */
  logFile?: string;
  /** The relay's --hostname (default relay.test). */
  hostname?: string;
}

export class RelayProcess {
  readonly #options: RelayProcessOptions;
  /** The relay's standard error so far (the last 64 KiB), when it has no log file. */
  stderr = '';
  #port: number | undefined;
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);
  #spawnedAt = 0;

  constructor(options: RelayProcessOptions) {
    this.#options = options;
    this.#port = options.port;
  }

  /** The options it was made with, and the port it listens on. */
  get options(): RelayProcessOptions & { port: number } {
    return { ...this.#options, port: this.port };
  }

  /** The port it listens on (known once spawned). */
  get port(): number {
    if (this.#port === undefined) throw new Error('the relay has not been spawned yet');
    return this.#port;
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  /** When the last spawn happened (nowMs clock). */
  get spawnedAt(): number {
    return this.#spawnedAt;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the relay and resolves once it listens (or rejects with its output, the process gone, if it does not). */
  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    await this.spawn(extraEnv);
    await this.#waitFor(connects, START_LIMIT_MS).catch(async (err: unknown) => {
      await this.kill9();
      throw err;
    });
  }

  /** Starts the relay process without waiting for it to listen (see waitForGreeting). */
  async spawn(extraEnv: Record<string, string> = {}): Promise<void> {
    const { mailroot, smartHost, args = [], env = {}, nodeArgs = [], logFile, hostname = 'relay.test' } = this.#options;
    this.#port ??= await unusedPort();
    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILROOT_') && k !== 'MR_FAILPOINT'));
    const log = logFile === undefined ? 'pipe' : fs.openSync(logFile, 'a');
    this.stderr = '';
    this.#spawnedAt = nowMs();
    const child = spawn(
      process.execPath,
      [...nodeArgs, MAIN, 'serve', '--mailroot', mailroot, '--listen', `127.0.0.1:${this.#port}`, '--smart-host', smartHost, '--hostname', hostname, ...args],
      { env: { ...baseEnv, ...env, ...extraEnv }, stdio: ['ignore', log === 'pipe' ? 'ignore' : log, log, 'ipc'] },
    );
    if (typeof log === 'number') fs.closeSync(log);
    this.#child = child;
    child.channel?.unref(); // the stop message's channel must not keep a test process alive after a failure
    this.#exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-65_536);
    });
  }

  /** Connects until the relay sends its 220 greeting; returns when that came (nowMs clock). */
  waitForGreeting(timeoutMs = START_LIMIT_MS): Promise<number> {
    return this.#waitFor(greeting, timeoutMs);
  }

  async #waitFor<T>(probe: (port: number) => Promise<T>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`relay exited before listening:\n${this.#output()}`);
      const result = await probe(this.port).then((value) => ({ value }), () => undefined);
      if (result !== undefined) return result.value;
      if (Date.now() > deadline) throw new Error(`relay did not listen within ${timeoutMs / 1000} s:\n${this.#output()}`);
      await new Promise((resolve) => setTimeout(resolve, RETRY_CONNECT_MS));
    }
  }

  /** Resolves with the exit code when the process has exited, e.g. after a failpoint killed it. */
  exited(): Promise<number | null> {
    return this.#exited;
  }

  async kill9(): Promise<void> {
    if (this.running) this.#child!.kill('SIGKILL');
    await this.#exited;
  }

  /**
   * The relay's clean stop, through the IPC stop message: the same on Windows, where kill() cannot ask. With
   * `graceMs`, a relay still running after that long is killed.
   */
  async stop(graceMs?: number): Promise<number | null> {
    if (!this.running) return this.#exited;
    this.#child!.send(STOP_MESSAGE);
    if (graceMs === undefined) return this.#exited;
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace over'>((resolve) => (timer = setTimeout(() => resolve('grace over'), graceMs)));
    const outcome = await Promise.race([this.#exited, graceOver]);
    clearTimeout(timer);
    if (outcome === 'grace over') await this.kill9();
    return this.#exited;
  }

  #output(): string {
    return this.#options.logFile === undefined ? this.stderr : `see ${this.#options.logFile}`;
  }
}

/** Resolves once a connection to `port` succeeds, rejects if it is refused. */
function connects(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** Connects once and reads the first reply; resolves with when a 220 came, rejects otherwise. */
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
