// The versions `mailroot --version` prints. From npm, mailroot's version is read from package.json; the release
// bundle (scripts/release.ts) defines MAILROOT_VERSION at build time, because a single executable has no
// package.json beside it.
import fs from 'node:fs';
import { isSea } from 'node:sea';

declare const MAILROOT_VERSION: string | undefined;

export function mailrootVersion(): string {
  if (typeof MAILROOT_VERSION === 'string') return MAILROOT_VERSION;
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** E.g. "mailroot 0.1.0 (Node.js v24.21.0, single executable)", or without the last part when run from npm. */
export function versionText(): string {
  return `mailroot ${mailrootVersion()} (Node.js ${process.version}${isSea() ? ', single executable' : ''})`;
}
