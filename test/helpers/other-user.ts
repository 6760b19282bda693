// Runs a command as an unprivileged user when the tests run as root (the relay's real situation: it runs as root
// or SYSTEM, the writers into Pickup do not); as the current user otherwise.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const NOBODY = 65534;

export const isRoot = process.platform !== 'win32' && process.getuid?.() === 0;

function setprivPath(): string | undefined {
  for (const candidate of ['/usr/bin/setpriv', '/bin/setpriv']) if (fs.existsSync(candidate)) return candidate;
  return undefined;
}

/** Why commands cannot run as another user here, or undefined when they can (root with setpriv). */
export function otherUserUnavailable(): string | undefined {
  if (!isRoot) return 'not running as root: the command runs as the current user';
  if (!setprivPath()) return 'setpriv (util-linux) is not installed';
  return undefined;
}

/** Runs `command args` as nobody when root (setpriv), else as this user. */
export function runAsOtherUser(command: string, args: string[]): void {
  const setpriv = isRoot ? setprivPath() : undefined;
  if (setpriv) execFileSync(setpriv, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', command, ...args], { stdio: 'pipe' });
  else execFileSync(command, args, { stdio: 'pipe' });
}
