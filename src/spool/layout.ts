// The mailroot folders, with IIS's names. An existing folder whose name differs only in case is used as it is,
// because IIS setups and the programs writing to them spell these names every which way (BadMail, pickup).
import fs from 'node:fs/promises';
import path from 'node:path';

export const FOLDER_NAMES = ['Pickup', 'Queue', 'Badmail', 'Drop', 'SortTemp'] as const;
export type FolderName = (typeof FOLDER_NAMES)[number];

export interface MailrootLayout {
  root: string;
  pickup: string;
  queue: string;
  badmail: string;
  drop: string;
  sortTemp: string;
}

/**
 * POSIX modes. Folders mailroot creates are private to its account (0700); the mailroot itself can be passed
 * through (0711) so that an operator can open Pickup, and only Pickup, to the accounts that write into it.
 * Queue, Badmail and SortTemp hold everyone's mail and the reasons it failed: made private at every start
 * whatever their mode was. Pickup and Drop keep the mode an operator gave them (writers; Drop's reader).
 * Windows ignores these modes: there the folders inherit the mailroot's ACL (see the README).
 */
const ROOT_MODE = 0o711;
const FOLDER_MODE = 0o700;
const PRIVATE_FOLDERS: ReadonlySet<FolderName> = new Set(['Queue', 'Badmail', 'SortTemp']);

/** Creates the mailroot and its five folders where missing; returns the paths actually in use. */
export async function prepareLayout(root: string): Promise<MailrootLayout> {
  await fs.mkdir(root, { recursive: true, mode: ROOT_MODE });
  const entries = await fs.readdir(root, { withFileTypes: true });
  const resolved = {} as Record<FolderName, string>;
  for (const name of FOLDER_NAMES) {
    const existing = entries.find((e) => e.isDirectory() && e.name.toLowerCase() === name.toLowerCase());
    const dir = path.join(root, existing ? existing.name : name);
    if (!existing) await fs.mkdir(dir, { recursive: true, mode: FOLDER_MODE });
    else if (PRIVATE_FOLDERS.has(name)) await makePrivate(dir);
    resolved[name] = dir;
  }
  return {
    root,
    pickup: resolved.Pickup,
    queue: resolved.Queue,
    badmail: resolved.Badmail,
    drop: resolved.Drop,
    sortTemp: resolved.SortTemp,
  };
}

async function makePrivate(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const { mode } = await fs.stat(dir);
  if ((mode & 0o077) !== 0) await fs.chmod(dir, FOLDER_MODE);
}

/**
 * Messages an operator has held (`mailroot queue hold`): <id>.eml with its <id>.rtr, moved out of Queue so that
 * nothing tries them, whatever restarts happen; moving them back into Queue releases them. Not an IIS folder,
 * so it is created when first needed (and by `mailroot init`), with the same case-insensitive lookup.
 */
export const HOLD_FOLDER = 'Hold';

export async function holdFolder(root: string, options: { create?: boolean } = {}): Promise<string> {
  const entries = await fs.readdir(root, { withFileTypes: true });
  const existing = entries.find((e) => e.isDirectory() && e.name.toLowerCase() === HOLD_FOLDER.toLowerCase());
  const dir = path.join(root, existing ? existing.name : HOLD_FOLDER);
  if (!existing && options.create) await fs.mkdir(dir, { recursive: true });
  return dir;
}
