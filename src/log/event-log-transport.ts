// A winston transport that copies the few log entries an administrator watches the Event Viewer for into the
// Windows Application log: the relay started and stopped, the smart host went down and came back, the first
// message since the start went to Badmail, operator alerts, and errors. Everything else stays in the normal log only.
import TransportStream from 'winston-transport';
import { EventLogWriter, type EventLogEntry, type EventLogOptions } from './event-log.js';
import type { Logger } from './logger.js';

/** Event IDs, stable so that an administrator can filter or alert on them. */
export const EVENT_IDS = {
  started: 100,
  stopped: 101,
  smartHostDown: 200,
  smartHostUp: 201,
  firstBadmail: 300,
  /** An operator alert (src/ops/alerts.ts): smart host down too long, queue too old, Badmail's first file of the day. */
  alert: 400,
  error: 900,
} as const;

interface LogInfo {
  level: string;
  message: unknown;
  [field: string]: unknown;
}

/** `key=value` for the fields worth showing (no timestamp, no winston internals). */
function fieldsText(info: LogInfo, keys: string[]): string {
  return keys
    .filter((key) => info[key] !== undefined)
    .map((key) => `${key}=${typeof info[key] === 'string' ? (info[key] as string) : JSON.stringify(info[key])}`)
    .join(', ');
}

/** Maps a log entry to an event log entry, or undefined for one that stays in the normal log only. */
export function eventFor(info: LogInfo, state: { badmailSeen: boolean }): EventLogEntry | undefined {
  const message = String(info.message);
  switch (message) {
    case 'relay started':
      state.badmailSeen = false;
      return { type: 'INFORMATION', id: EVENT_IDS.started, message: `mailroot started: ${fieldsText(info, ['mailroot', 'smartHost'])}` };
    case 'relay stopped':
      return { type: 'INFORMATION', id: EVENT_IDS.stopped, message: 'mailroot stopped' };
    case 'smart host is down':
      return { type: 'WARNING', id: EVENT_IDS.smartHostDown, message: `Smart host is down, messages stay queued: ${fieldsText(info, ['host', 'reply'])}` };
    case 'smart host is up':
      return { type: 'INFORMATION', id: EVENT_IDS.smartHostUp, message: `Smart host is up again: ${fieldsText(info, ['host'])}` };
    case 'badmail':
      if (state.badmailSeen) return undefined;
      state.badmailSeen = true;
      return {
        type: 'WARNING',
        id: EVENT_IDS.firstBadmail,
        message: `A message was moved to Badmail (the first since the start; later ones are in the log only): ${fieldsText(info, ['id', 'file', 'reason', 'recipients'])}`,
      };
    default:
      if (info.alert !== undefined) return { type: 'ERROR', id: EVENT_IDS.alert, message };
      if (info.level !== 'error') return undefined;
      return { type: 'ERROR', id: EVENT_IDS.error, message: `${message}${info.error !== undefined ? `: ${fieldsText(info, ['error'])}` : ''}` };
  }
}

export class EventLogTransport extends TransportStream {
  readonly #writer: EventLogWriter;
  readonly #state = { badmailSeen: false };

  constructor(writer: EventLogWriter) {
    super({ level: 'debug' });
    this.#writer = writer;
  }

  override log(info: LogInfo, next: () => void): void {
    const entry = eventFor(info, this.#state);
    if (entry !== undefined) this.#writer.write(entry);
    next();
  }
}

/**
 * Adds the Event Log transport to the relay's logger (Windows only; elsewhere a warning). Returns a function that
 * waits, at most `maxWaitMs`, for the queued entries to be written: called before the process exits.
 */
export function attachEventLog(log: Logger, options: EventLogOptions = {}, maxWaitMs = 3000): () => Promise<void> {
  if (process.platform !== 'win32' && options.command === undefined) {
    log.warn('eventLog: the Windows event log exists only on Windows; not written');
    return () => Promise.resolve();
  }
  const writer = new EventLogWriter({
    onError: (error) => log.warn(error.message),
    ...options,
  });
  log.add(new EventLogTransport(writer));
  return () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs);
      void writer.flushed().then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
}
