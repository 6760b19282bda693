// Starts and queries the sink child process (sink.ts). A scenario done with its sink releases it: the process
// stops listening, zeroes its counts and waits for the next scenario, so a run forks one sink, not one per scenario
// (each fork is a node start-up). The bench's cleanup ends the processes.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SinkReply, SinkRequest } from './sink.js';
import { onCleanup } from './cleanup.js';
import { sleep } from './util.js';
import { cpuSecondsOf } from './relay-process.js';

export interface SinkStats {
  count: number;
  firstAt: number | null;
  lastAt: number | null;
  connections: number;
}

/** One sink child process and its replies, in the order asked. */
class SinkProcess {
  readonly child: ChildProcess;
  readonly #pending: Array<(reply: SinkReply) => void> = [];

  constructor() {
    this.child = fork(fileURLToPath(new URL('./sink.js', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (reply: SinkReply) => this.#pending.shift()?.(reply));
    this.child.on('error', () => undefined); // a send after the sink is gone: ask() reports it
    const untrack = onCleanup(() => this.kill());
    this.child.once('exit', () => {
      untrack();
      const at = idle.indexOf(this);
      if (at !== -1) idle.splice(at, 1);
    });
  }

  get usable(): boolean {
    return this.child.connected && this.child.exitCode === null;
  }

  ask(request: SinkRequest, timeoutMs = 10_000): Promise<SinkReply> {
    if (!this.usable) return Promise.reject(new Error('the sink process is gone'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sink did not answer ${request.type}`)), timeoutMs);
      this.#pending.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.child.send(request);
    });
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) this.child.disconnect();
    await Promise.race([exited, sleep(2000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Sink processes released by a scenario, ready for the next. */
const idle: SinkProcess[] = [];

export class Sink {
  readonly #process: SinkProcess;
  #released = false;
  port = 0;

  private constructor(process: SinkProcess) {
    this.#process = process;
  }

  /** A sink process (an idle one, or a new fork), not yet listening, its counts at zero. */
  static create(): Sink {
    let process = idle.pop();
    while (process && !process.usable) process = idle.pop();
    return new Sink(process ?? new SinkProcess());
  }

  /** User + system CPU seconds the sink process has used so far (undefined without /proc). */
  get cpuSeconds(): number | undefined {
    const pid = this.#process.child.pid;
    return pid === undefined ? undefined : cpuSecondsOf(pid);
  }

  async listen(port = 0): Promise<number> {
    const reply = await this.#process.ask({ type: 'listen', port });
    if (reply.type !== 'listening') throw new Error(`sink cannot listen on ${port}: ${reply.type === 'error' ? reply.message : reply.type}`);
    this.port = reply.port;
    return reply.port;
  }

  async stats(): Promise<SinkStats> {
    const reply = await this.#process.ask({ type: 'stats' });
    if (reply.type !== 'stats') throw new Error('unexpected sink reply');
    return reply;
  }

  /** Polls until the sink has counted `count` messages or `timeoutMs` passes. */
  async waitFor(count: number, timeoutMs: number, intervalMs = 20): Promise<SinkStats> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stats = await this.stats();
      if (stats.count >= count || Date.now() >= deadline) return stats;
      await sleep(intervalMs);
    }
  }

  /** Done with it: the process closes its listener and its connections, zeroes its counts and is kept for the next scenario. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const reply = await this.#process.ask({ type: 'reset' }).catch(() => undefined);
    if (reply?.type === 'reset' && this.#process.usable) idle.push(this.#process);
    else await this.#process.kill();
  }
}
