// Badmail: a message or a file that will not be delivered goes there as <id>.bad, with the reason beside it as
// <id>.bdr (IIS's names). The reason is always written first: a crash in between leaves the file where it was.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { failpoint } from '../failpoints.js';
import { fsyncDir, renameWithRetry, writeFileDurably } from './durable.js';
import { unlinkIfPresent } from './file-ops.js';
import type { MailrootLayout } from './layout.js';
import { idOf, STATE_SUFFIX } from './queue-names.js';
import type { QueuedMessage } from './queued-message.js';
import { copyWithHead, renameOrRemove, scratchPath } from './scratch.js';

export class Badmail {
  readonly #layout: MailrootLayout;

  constructor(layout: MailrootLayout) {
    this.#layout = layout;
  }

  /** Writes the .bdr under a free stem, before its message moves (see quarantine); returns the stem. */
  async #writeReport(id: string, report: string): Promise<string> {
    const stem = await this.#badmailStem(id);
    await writeFileDurably(scratchPath(this.#layout, id, 'bdr'), path.join(this.#layout.badmail, stem + '.bdr'), report);
    failpoint('badmail-after-report');
    return stem;
  }

  /** A name in Badmail that no earlier .bad/.bdr pair uses. */
  async #badmailStem(id: string): Promise<string> {
    for (let n = 1; ; n++) {
      const stem = n === 1 ? id : `${id}-${n}`;
      const taken = await Promise.all(
        ['.bad', '.bdr'].map((suffix) => fsp.access(path.join(this.#layout.badmail, stem + suffix)).then(() => true, () => false)),
      );
      if (!taken.includes(true)) return stem;
    }
  }

  /**
   * Moves a message to Badmail as <id>.bad with a plain-text <id>.bdr reason beside it. With `recipients`,
   * only those are written into the .bad file (so moving it into Pickup resends to them alone) and the
   * queued file is left for the caller to rewrite or remove. The .bdr is written first: a crash in between
   * leaves the message in Queue, to be tried again, never lost.
   */
  async quarantine(
    name: string,
    report: string,
    options: { message?: QueuedMessage; recipients?: string[] } = {},
  ): Promise<string> {
    const id = idOf(name);
    const stem = await this.#writeReport(id, report);
    const badFile = path.join(this.#layout.badmail, stem + '.bad');
    const { message, recipients } = options;
    if (message && recipients && recipients.length < message.envelope.recipients.length) {
      const temp = scratchPath(this.#layout, id, 'bad');
      await copyWithHead(message, { ...message.envelope, recipients }, temp);
      await renameOrRemove(temp, badFile);
    } else {
      await renameWithRetry(path.join(this.#layout.queue, name), badFile);
      await unlinkIfPresent(path.join(this.#layout.queue, idOf(name) + STATE_SUFFIX));
      await fsyncDir(this.#layout.queue);
    }
    await fsyncDir(this.#layout.badmail);
    return stem;
  }

  /**
   * Moves any file (a claimed Pickup file) to Badmail unchanged as <id>.bad, with the <id>.bdr report beside
   * it; `id` names the pair. As in quarantine(), the report is written first.
   */
  async quarantineFile(file: string, id: string, report: string): Promise<string> {
    const stem = await this.#writeReport(id, report);
    await renameWithRetry(file, path.join(this.#layout.badmail, stem + '.bad'));
    await fsyncDir(this.#layout.badmail);
    return stem;
  }

  /**
   * A claimed Pickup entry that is not a regular file with one name (a symbolic link, a hard link, a named pipe):
   * the <id>.bdr says why, and the entry is removed. Removing a name never touches what it pointed at; moving it
   * into Badmail would leave a link there for the next reader (an operator, a tool) to follow. A folder, which
   * cannot be unlinked, is moved into Badmail as <id>.bad instead.
   */
  async refuseFile(file: string, id: string, report: string): Promise<string> {
    const stem = await this.#writeReport(id, report);
    try {
      await unlinkIfPresent(file);
    } catch {
      await renameWithRetry(file, path.join(this.#layout.badmail, stem + '.bad'));
    }
    await fsyncDir(this.#layout.badmail);
    return stem;
  }
}
