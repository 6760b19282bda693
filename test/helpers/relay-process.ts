// The real relay as a child process (the CLI), so a test can kill -9 it and start it again on the same mailroot.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { STOP_MESSAGE } from '../../src/cli/stop-requests.js';

/**
 * A hang guard, not a speed check. Windows' node.exe under Wine on a loaded 2-core machine took 7 s to run
 * `node -e 0` and 18 s to start the CLI and refuse a bad flag (load average 20), hence the longer bound there.
 */
export const START_LIMIT_MS = process.platform === 'win32' ? 90_000 : 15_000;

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export interface RelayProcessOptions {
  mailroot: string;
  port: number;
  smartHost: string;
  args?: string[];
  env?: Record<string, string>;
}

export class RelayProcess {
  readonly options: RelayProcessOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);
  stderr = '';

  constructor(options: RelayProcessOptions) {
    this.options = options;
  }

  /** Starts the relay and resolves once it listens (or rejects with its output if it exits first). */
  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    const { mailroot, port, smartHost, args = [], env = {} } = this.options;
    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILROOT_') && k !== 'MR_FAILPOINT'));
    const child = spawn(
      process.execPath,
      [MAIN, 'serve', '--mailroot', mailroot, '--listen', `127.0.0.1:${port}`, '--smart-host', smartHost, '--hostname', 'relay.test', ...args],
      { env: { ...baseEnv, ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
    );
    this.#child = child;
    child.channel?.unref(); // the stop message's channel must not keep a test process alive after a failure
    this.#exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-65_536);
      this.stderr = output;
    });
    const deadline = Date.now() + START_LIMIT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`relay exited before listening:\n${output}`);
      if (await canConnect(port)) return;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`relay did not listen within ${START_LIMIT_MS / 1000} s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves when the process has exited, e.g. after a failpoint killed it. */
  exited(): Promise<number | null> {
    return this.#exited;
  }

  async kill9(): Promise<void> {
    if (this.running) this.#child!.kill('SIGKILL');
    await this.#exited;
  }

  /** The relay's clean stop, through the IPC stop message: the same on Windows, where kill() cannot ask. */
  async stop(): Promise<number | null> {
    if (this.running) this.#child!.send(STOP_MESSAGE);
    return this.#exited;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
