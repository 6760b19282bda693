// Reads the queue as the operator commands see it: every message in Queue and in Hold, each with its envelope
// and retry state. Only reads; the changes are in queue-actions.ts. Works with the relay running or stopped.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../util/error-code.js';
import {
  holdFolder,
  idOf,
  isQueueMessageName,
  parseRetryState,
  prepareLayout,
  QUEUE_SUFFIX,
  readMessageFile,
  readMessageStart,
  STATE_SUFFIX,
  timeOfId,
  type MailrootLayout,
  type RetryState,
} from '../spool/spool.js';

export type Place = 'queue' | 'hold';

export interface QueueEntry {
  id: string;
  /** Queue: waiting for delivery. Hold: held by an operator, never tried until released. */
  place: Place;
  /** The .eml file. */
  file: string;
  /** The .rtr beside it, if it has one. */
  stateFile: string | undefined;
  state: RetryState | undefined;
  sender: string;
  recipients: string[];
  size: number;
  bodyOffset: number;
  /** When it was queued: its .rtr's First-Queued, else the time in its id, else the file's modification time. */
  queuedAt: Date;
  /** Set when the file cannot be read as a queue file (delivery will move it to Badmail). */
  unreadable?: string;
}

export class QueueNotFoundError extends Error {
  override name = 'QueueNotFoundError';
}

/** How many files are read at once when listing. */
const READ_CONCURRENCY = 16;

export class QueueFiles {
  readonly layout: MailrootLayout;
  readonly hold: string;

  private constructor(layout: MailrootLayout, hold: string) {
    this.layout = layout;
    this.hold = hold;
  }

  /** Refuses a folder that is not a mailroot rather than creating one in the wrong place. */
  static async open(root: string): Promise<QueueFiles> {
    if (!fs.existsSync(root)) throw new QueueNotFoundError(`no mailroot at ${root} (set mailroot, or --config)`);
    const layout = await prepareLayout(root);
    return new QueueFiles(layout, await holdFolder(root, { create: true }));
  }

  dir(place: Place): string {
    return place === 'queue' ? this.layout.queue : this.hold;
  }

  async list(places: Place[] = ['queue', 'hold']): Promise<QueueEntry[]> {
    const names: Array<{ place: Place; name: string; hasState: boolean }> = [];
    for (const place of places) {
      let entries: string[];
      try {
        entries = await fsp.readdir(this.dir(place));
      } catch (err) {
        if (errorCode(err) === 'ENOENT') continue;
        throw err;
      }
      const states = new Set(entries.filter((n) => n.endsWith(STATE_SUFFIX)));
      for (const name of entries) {
        if (isQueueMessageName(name)) names.push({ place, name, hasState: states.has(idOf(name) + STATE_SUFFIX) });
      }
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)); // ids sort by arrival: oldest first
    const out: Array<QueueEntry | undefined> = new Array(names.length);
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const i = next++;
        out[i] = await this.read(names[i]!.place, names[i]!.name, names[i]!.hasState);
      }
    };
    await Promise.all(Array.from({ length: READ_CONCURRENCY }, worker));
    return out.filter((entry): entry is QueueEntry => entry !== undefined);
  }

  /** One message; undefined when its file is gone (delivered or moved meanwhile). */
  async read(place: Place, name: string, hasState = true): Promise<QueueEntry | undefined> {
    const file = path.join(this.dir(place), name);
    const stateFile = path.join(this.dir(place), idOf(name) + STATE_SUFFIX);
    let state: RetryState | undefined;
    let stateFound = false;
    if (hasState) {
      try {
        state = parseRetryState(await fsp.readFile(stateFile, 'utf8'));
        stateFound = true;
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
      }
    }
    const read = await readMessageFile(file);
    const id = idOf(name);
    const idTime = timeOfId(id);
    // A hand-made file with neither an .rtr nor a mailroot id is dated by its file time, the last resort.
    const base = (stat: fs.Stats | undefined) => ({ id, place, file, stateFile: stateFound ? stateFile : undefined, state, queuedAt: state?.firstQueued ?? idTime ?? stat?.mtime ?? new Date(0) });
    const statOf = () => fsp.stat(file).catch(() => undefined);
    if (!read.ok) {
      if (read.reason.missing) return undefined;
      const stat = await statOf(); // not a message: no envelope to size it by
      return { ...base(stat), size: stat?.size ?? 0, sender: '', recipients: [], bodyOffset: 0, unreadable: read.reason.text };
    }
    const { envelope, size, bodyOffset } = read.value;
    return { ...base(!state && !idTime ? await statOf() : undefined), size, sender: envelope.sender, recipients: envelope.recipients, bodyOffset };
  }

  /** The message whose id is `wanted` (or "<id>.eml"), or the only one whose id starts with it. */
  async find(wanted: string): Promise<QueueEntry> {
    const id = wanted.toLowerCase().endsWith(QUEUE_SUFFIX) ? wanted.slice(0, -QUEUE_SUFFIX.length) : wanted;
    if (id === '' || /[\\/]/.test(id)) throw new QueueNotFoundError(`not a message id: ${JSON.stringify(wanted)}`);
    for (const place of ['queue', 'hold'] as const) {
      const entry = await this.read(place, id + QUEUE_SUFFIX);
      if (entry) return entry;
    }
    const matches: Array<{ place: Place; name: string }> = [];
    for (const place of ['queue', 'hold'] as const) {
      const names = await fsp.readdir(this.dir(place)).catch(() => [] as string[]);
      for (const name of names) if (isQueueMessageName(name) && name.startsWith(id)) matches.push({ place, name });
    }
    if (matches.length === 1) {
      const entry = await this.read(matches[0]!.place, matches[0]!.name);
      if (entry) return entry;
    }
    if (matches.length > 1) throw new QueueNotFoundError(`${JSON.stringify(wanted)} matches ${matches.length} messages; give more of the id`);
    throw new QueueNotFoundError(`no message ${JSON.stringify(wanted)} in Queue or Hold (delivered, or moved to Badmail?)`);
  }

  /** The message's header block (up to 64 KB), for `queue show`. */
  async headers(entry: QueueEntry): Promise<string> {
    const { bytes } = await readMessageStart({ path: entry.file, bodyOffset: entry.bodyOffset, size: entry.size }, 64 * 1024);
    const text = bytes.toString('utf8');
    const end = text.search(/\r?\n\r?\n/);
    return end === -1 ? text : text.slice(0, end);
  }
}
