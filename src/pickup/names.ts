// Which files in Pickup are messages. IIS took every file whatever its name (email.txt too), and so does this,
// except names that writers give a file while they are still building it, and the files Windows Explorer
// leaves in any folder it shows.

/** Work-in-progress endings: temp files, partial downloads and copies (browsers, WinSCP, rsync-like tools). */
const WORK_IN_PROGRESS_ENDINGS = ['.tmp', '.temp', '.part', '.partial', '.filepart', '.crdownload'];
const EXPLORER_FILES = new Set(['thumbs.db', 'desktop.ini']);

/**
 * False for names never taken from Pickup: dot-files (`.name`, hidden and in-progress on Unix), names
 * starting or ending with `~` (editor backups, Office `~$` owner files), the endings above, and Explorer's
 * `Thumbs.db` and `desktop.ini`. Case does not matter.
 */
export function isPickupFileName(name: string): boolean {
  if (name === '' || name.startsWith('.') || name.startsWith('~') || name.endsWith('~')) return false;
  const lower = name.toLowerCase();
  if (EXPLORER_FILES.has(lower)) return false;
  return !WORK_IN_PROGRESS_ENDINGS.some((ending) => lower.endsWith(ending));
}
