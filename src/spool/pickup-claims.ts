// Pickup claims: a file is taken from Pickup by renaming it into SortTemp, so no scan sees it twice; it is
// removed once its message is queued, or put back into Pickup to be taken again.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../util/error-code.js';
import { isTransientRenameError, renameWithRetry } from './durable.js';
import { renameFile, unlinkIfPresent } from './file-ops.js';
import { newMessageId } from './ids.js';
import type { MailrootLayout } from './layout.js';
import { QUEUE_SUFFIX } from './queue-names.js';

/** A Pickup file taken for processing: SortTemp/<claim id>.pickup. Returned to Pickup by the start-up sweep. */
export const PICKUP_CLAIM_SUFFIX = '.pickup';
/** A claim whose message is queued but whose file could not be deleted: removed by the start-up sweep. */
const PICKUP_DONE_SUFFIX = '.done';

/** A Pickup file claimed by renaming it into SortTemp; `name` is what it was called in Pickup. */
export interface PickupClaim {
  id: string;
  name: string;
  path: string;
}

/** What a failed claim means: the file went away, another program still holds it open, or something else. */
export type ClaimFailure = 'gone' | 'in-use' | 'failed';

export function claimFailure(err: unknown): ClaimFailure {
  if (errorCode(err) === 'ENOENT') return 'gone';
  if (isTransientRenameError(err)) return 'in-use';
  return 'failed';
}

export class PickupClaims {
  readonly #layout: MailrootLayout;

  constructor(layout: MailrootLayout) {
    this.#layout = layout;
  }

  /**
   * Takes a Pickup file by renaming it into SortTemp under a new claim id: from then on no scan sees it, and a
   * writer still holding it open on Windows makes this fail (EBUSY/EPERM/EACCES, see isTransientRenameError).
   * Nothing is retried here: claimFailure() tells the caller what an error means.
   */
  async claimPickupFile(name: string): Promise<PickupClaim> {
    const id = newMessageId();
    const claimed = path.join(this.#layout.sortTemp, id + PICKUP_CLAIM_SUFFIX);
    await renameFile(path.join(this.#layout.pickup, name), claimed);
    return { id, name, path: claimed };
  }

  /** Puts a claimed file back into Pickup, as <claim id>.eml (a name no writer uses), to be taken again later. */
  async returnToPickup(claim: PickupClaim): Promise<string> {
    const back = claim.id + QUEUE_SUFFIX;
    await renameWithRetry(claim.path, path.join(this.#layout.pickup, back));
    return back;
  }

  /**
   * Removes a claimed file once its message is queued. A file that cannot be deleted (read-only on a share,
   * say) is renamed so that the start-up sweep deletes it rather than returning it to Pickup: unlike IIS, a
   * read-only pickup file is never sent again.
   */
  async releaseClaim(claim: PickupClaim): Promise<void> {
    try {
      await unlinkIfPresent(claim.path);
      return;
    } catch {
      // try harder below
    }
    try {
      await fsp.chmod(claim.path, 0o666);
      await unlinkIfPresent(claim.path);
    } catch {
      await renameWithRetry(claim.path, path.join(this.#layout.sortTemp, claim.id + PICKUP_DONE_SUFFIX));
    }
  }
}
