// Writes entries to the Windows Application event log under the source "mailroot", with eventcreate.exe (on every
// Windows since Server 2003, Server Core included; it registers the source on first use when run as an
// administrator or LocalSystem). Node cannot call ReportEvent itself, and a native addon would break the plain
// `npm install` and the single-executable build; a child process per entry is fine for the few events written.
//
// Nothing here may slow the relay: write() only queues; one eventcreate runs at a time; the queue is bounded and
// what overflows is counted and reported in the next entry. A failure (no eventcreate, no right to register the
// source) is reported once through onError and the writer goes on trying for later entries.
import { spawn } from 'node:child_process';
import path from 'node:path';

export type EventType = 'INFORMATION' | 'WARNING' | 'ERROR';

export interface EventLogEntry {
  type: EventType;
  /** eventcreate accepts 1 to 1000. */
  id: number;
  message: string;
}

export interface EventLogOptions {
  source?: string;
  /** The program and leading arguments to run instead of eventcreate.exe (tests run a recorder). */
  command?: readonly [string, ...string[]];
  /** Entries waiting beyond this many are dropped and counted. */
  maxQueued?: number;
  /** An eventcreate that has not finished after this long is ended. */
  timeoutMs?: number;
  onError?: (error: Error) => void;
}

/** eventcreate /D takes at most this many characters. */
const MAX_MESSAGE_LENGTH = 1000;

function defaultCommand(): [string] {
  const systemRoot = process.env.SystemRoot ?? 'C:\\Windows';
  return [path.win32.join(systemRoot, 'System32', 'eventcreate.exe')];
}

export class EventLogWriter {
  readonly source: string;
  readonly #command: readonly [string, ...string[]];
  readonly #maxQueued: number;
  readonly #timeoutMs: number;
  readonly #onError: (error: Error) => void;
  readonly #queue: EventLogEntry[] = [];
  #running = false;
  #dropped = 0;
  #errorReported = false;
  #idle: (() => void)[] = [];

  constructor(options: EventLogOptions = {}) {
    this.source = options.source ?? 'mailroot';
    this.#command = options.command ?? defaultCommand();
    this.#maxQueued = options.maxQueued ?? 20;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Queues an entry; returns at once. */
  write(entry: EventLogEntry): void {
    if (this.#queue.length >= this.#maxQueued) {
      this.#dropped++;
      return;
    }
    this.#queue.push(entry);
    this.#next();
  }

  /** Resolves when every queued entry has been written (or has failed). */
  flushed(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #next(): void {
    if (this.#running) return;
    let entry = this.#queue.shift();
    if (entry === undefined) {
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    if (this.#dropped > 0) {
      entry = { ...entry, message: `${entry.message} (${this.#dropped} other event log entries were dropped: too many at once)` };
      this.#dropped = 0;
    }
    this.#running = true;
    this.#run(entry).then(
      () => undefined,
      (err: unknown) => this.#reportError(err as Error),
    ).finally(() => {
      this.#running = false;
      this.#next();
    });
  }

  #run(entry: EventLogEntry): Promise<void> {
    const [program, ...leading] = this.#command;
    const args = [...leading, '/L', 'APPLICATION', '/T', entry.type, '/SO', this.source, '/ID', String(entry.id), '/D', eventText(entry.message)];
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'], windowsHide: true });
      // Not spawn's `timeout` option: Node clears that timer only on 'exit', which a program that cannot start
      // never emits, so a missing eventcreate held the process open for the whole timeout.
      const timer = setTimeout(() => child.kill(), this.#timeoutMs);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-2000);
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`${path.basename(program)} exited with ${code ?? signal}: ${stderr.trim() || '(no output)'}`));
      });
    });
  }

  #reportError(error: Error): void {
    if (this.#errorReported) return;
    this.#errorReported = true;
    this.#onError(new Error(`cannot write to the Windows event log (source ${this.source}): ${error.message}`));
  }
}

/** One line; double quotes become single ones (they survive every command-line parser); at most 1000 characters. */
export function eventText(message: string): string {
  const text = message.replace(/"/g, "'").replace(/[\r\n]+/g, ' ');
  return text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH - 3)}...`;
}
