/**
 * Runs every compiled test file under dist/test with Node's built-in test runner.
 *
 * `node --test DIR` reads DIR as a file since Node 21, and Node 20 does not expand globs itself, so the
 * list of files is collected here and passed explicitly: the same command works on Node 20, 22 and 24,
 * on Linux and on Windows' node.exe. Extra arguments are passed through (e.g. a file filter is not needed:
 * name files after `--` to run only those).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeAllTestCertificates } from '../test/helpers/test-certificates.js';

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

/**
 * Test files share processes: each process imports several files through an entry module (a temp folder,
 * removed at the end). A process per file cost about 0.5 s of CPU in start-up and module loading, which on two
 * cores was a third of the suite's time (46 unit files: 28 s of CPU apart, 7 s together). The unit tests run
 * in one process; the others in groups of FILES_PER_PROCESS, dealt out in turn so that the long ones spread.
 * So a test file must leave nothing behind for the next: hooks inside its describe(), mock timers reset after
 * each test, every server and relay stopped in its after hooks. Named files (after `--`) run each alone.
 */
const FILES_PER_PROCESS = 4;
/**
 * The longest files (the bench smoke run with its Postfix peer, about 30 s; the per-route outages, 15 s, mostly
 * waiting) start first, each in a process of its own, so that the others pack around them instead of queueing
 * behind a group that holds one of them.
 */
const LONGEST = ['e2e/bench-smoke.test.js', 'e2e/route-outage.test.js'].map((file) => path.join(root, file));

/** Everything the run writes (the entry modules, the test certificates), removed when it ends. */
const runDir = mkdtempSync(path.join(os.tmpdir(), 'mailroot-test-run-'));

/** The entry modules, one per process: the longest files alone, the unit tests together, the rest dealt out. */
function grouped(all: string[]): string[] {
  const unitDir = path.join(root, 'unit') + path.sep;
  const alone = LONGEST.filter((file) => all.includes(file));
  const others = all.filter((file) => !file.startsWith(unitDir) && !alone.includes(file));
  const count = Math.ceil(others.length / FILES_PER_PROCESS);
  const groups: string[][] = [...alone.map((file) => [file]), all.filter((file) => file.startsWith(unitDir)), ...Array.from({ length: count }, () => [])];
  others.forEach((file, i) => groups[alone.length + 1 + (i % count)]!.push(file));
  return groups
    .filter((group) => group.length > 0)
    .map((group, i) => {
      const entry = path.join(runDir, `tests-${String(i).padStart(2, '0')}.mjs`);
      writeFileSync(entry, group.map((file) => `import ${JSON.stringify(pathToFileURL(file).href)};\n`).join(''));
      return entry;
    });
}

const files = chosen.length > 0 ? chosen : grouped(testFiles(root));

/**
 * Test processes run in parallel. Most of their files wait (for a relay process, a retry, a reply) rather than
 * compute, so two per core keep the machine busy (three per core timed out a test under a load
 * average of 17 from other work); no test uses a fixed port or shared state (every server has a port of its own,
 * port 0 or unusedPort(), and every mailroot is a temporary folder of its own). `--test-concurrency=N`
 * given to this script overrides it.
 */
// Under Windows' node.exe on Wine every process is CPU-heavy, so there one per core (2 here, as before).
const concurrency = Math.max(2, os.availableParallelism() * (process.platform === 'win32' ? 1 : 2));
const hasConcurrency = runnerArgs.some((arg) => arg.startsWith('--test-concurrency'));
const defaults = hasConcurrency ? [] : [`--test-concurrency=${concurrency}`];

/**
 * The test certificates, made once for the run instead of once per test file that needs them (five RSA keys
 * for the CA set: about a CPU second each time). Where openssl cannot run, each file makes or skips its own.
 */
function premadeCertificates(): NodeJS.ProcessEnv {
  if (process.env.MAILROOT_TEST_CERTS) return {};
  const dir = path.join(runDir, 'certs');
  return writeAllTestCertificates(dir) ? { MAILROOT_TEST_CERTS: dir } : {};
}

const certificates = premadeCertificates();
const child = spawn(process.execPath, ['--test', ...defaults, '--test-reporter=spec', ...runnerArgs, ...files], {
  stdio: 'inherit',
  env: { ...process.env, ...certificates },
});
child.on('exit', (code, signal) => {
  rmSync(runDir, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
