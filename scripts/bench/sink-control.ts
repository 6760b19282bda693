// Starts and queries the sink child process (sink.ts).
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

export class Sink {
  readonly #child: ChildProcess;
  readonly #pending: Array<(reply: SinkReply) => void> = [];
  port = 0;
  readonly #untrack: () => void;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#untrack = onCleanup(() => this.kill());
    child.on('message', (reply: SinkReply) => this.#pending.shift()?.(reply));
    child.on('error', () => undefined); // a send after the sink is gone: #ask reports it
  }

  /** User + system CPU seconds the sink process has used so far (undefined without /proc). */
  get cpuSeconds(): number | undefined {
    return this.#child.pid === undefined ? undefined : cpuSecondsOf(this.#child.pid);
  }

  /** Forks the sink process (not yet listening). */
  static create(): Sink {
    const child = fork(fileURLToPath(new URL('./sink.js', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    return new Sink(child);
  }

  #ask(request: SinkRequest, timeoutMs = 10_000): Promise<SinkReply> {
    if (!this.#child.connected) return Promise.reject(new Error('the sink process is gone'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sink did not answer ${request.type}`)), timeoutMs);
      this.#pending.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.#child.send(request);
    });
  }

  async listen(port = 0): Promise<number> {
    const reply = await this.#ask({ type: 'listen', port });
    if (reply.type !== 'listening') throw new Error(`sink cannot listen on ${port}: ${reply.type === 'error' ? reply.message : reply.type}`);
    this.port = reply.port;
    return reply.port;
  }

  async stats(): Promise<SinkStats> {
    const reply = await this.#ask({ type: 'stats' });
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

  async close(): Promise<void> {
    await this.#ask({ type: 'close' }).catch(() => undefined);
  }

  async kill(): Promise<void> {
    this.#untrack();
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.disconnect();
    await Promise.race([exited, sleep(2000)]);
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}
