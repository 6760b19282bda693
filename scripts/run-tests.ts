/**
 * Runs every compiled test file under dist/test with Node's built-in test runner.
 *
 * `node --test DIR` reads DIR as a file since Node 21, and Node 20 does not expand globs itself, so the
 * list of files is collected here and passed explicitly: the same command works on Node 20, 22 and 24,
 * on Linux and on Windows' node.exe. Extra arguments are passed through (e.g. a file filter is not needed:
 * name files after `--` to run only those).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'test');

function testFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) found.push(full);
  }
  return found.sort();
}

const args = process.argv.slice(2);
const dashes = args.indexOf('--');
const runnerArgs = dashes === -1 ? args : args.slice(0, dashes);
const chosen = dashes === -1 ? [] : args.slice(dashes + 1).map((file) => path.resolve(file));
const files = chosen.length > 0 ? chosen : testFiles(root);

const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...runnerArgs, ...files], {
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
