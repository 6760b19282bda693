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

/** Creates the mailroot and its five folders where missing; returns the paths actually in use. */
export async function prepareLayout(root: string): Promise<MailrootLayout> {
  await fs.mkdir(root, { recursive: true });
  const entries = await fs.readdir(root, { withFileTypes: true });
  const resolved = {} as Record<FolderName, string>;
  for (const name of FOLDER_NAMES) {
    const existing = entries.find((e) => e.isDirectory() && e.name.toLowerCase() === name.toLowerCase());
    const dir = path.join(root, existing ? existing.name : name);
    if (!existing) await fs.mkdir(dir, { recursive: true });
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
