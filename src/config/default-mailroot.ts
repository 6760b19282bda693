// The mailroot used when none is configured: IIS's own folder on a Windows server that ran the IIS SMTP Service,
// so the relay takes over the folders its writers already use; ./spool everywhere else.
import fs from 'node:fs';
import path from 'node:path';

export const PORTABLE_DEFAULT_MAILROOT = './spool';

/** %SystemDrive%\inetpub\mailroot, where IIS 6.0's SMTP Service keeps Pickup, Queue, Badmail, Drop and SortTemp. */
export function iisMailroot(env: NodeJS.ProcessEnv = process.env): string {
  return path.win32.join(`${env.SystemDrive ?? 'C:'}\\`, 'inetpub', 'mailroot');
}

export interface DefaultMailrootOptions {
  platform?: NodeJS.Platform;
  /** The IIS folder to look for (tests pass a temporary one). */
  iisFolder?: string;
}

export function defaultMailroot(options: DefaultMailrootOptions = {}): string {
  if ((options.platform ?? process.platform) !== 'win32') return PORTABLE_DEFAULT_MAILROOT;
  const iis = options.iisFolder ?? iisMailroot();
  try {
    if (fs.statSync(iis).isDirectory()) return iis;
  } catch {
    // not there (or not readable): the portable default
  }
  return PORTABLE_DEFAULT_MAILROOT;
}
