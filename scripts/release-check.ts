/**
 * `npm run release:check`: the black-box check of what `npm run release` wrote, as shipped. On Linux:
 *   - SHA256SUMS matches every asset; the zip holds mailroot.exe (no broken signature, mailroot's version
 *     resource) and exactly WINDOWS_ZIP_FILES;
 *   - mailroot.exe, unpacked from the zip into a fresh folder, runs under Wine; the linux-x64 binary, copied
 *     out of the repository, runs natively. Each: `--version`, `hash-password`, then `serve` (with the sample
 *     mailroot.json) relays a message over SMTP, a Pickup file and a file moved into Queue to a real SMTP server
 *     on loopback, and stops cleanly on SIGINT (Ctrl+C: Wine turns it into a console control event) or SIGTERM.
 * Nothing here can see the repository's node_modules or dist from inside the executables: a dynamic require or
 * a file read relative to a module fails here even where the npm build works.
 *
 * Options: --only win-x64|linux-x64. Wine: WINEPREFIX (default .cache/wine-prefix, set up with `winecfg -v
 * win10` on first use).
 */
import AdmZip from 'adm-zip';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parsePasswordHash } from '../src/config/auth-users.js';
import { verifyPassword } from '../src/smtp/auth.js';
import { sendMail } from '../test/helpers/client.js';
import { dropIntoQueue, eventually, filesIn } from '../test/helpers/relay.js';
import { Upstream, type ReceivedMessage } from '../test/helpers/upstream.js';
import { unusedPort } from '../test/helpers/ports.js';
import { describeMailrootExe } from './release-pe.js';
import { NODE_VERSION, RELEASE_DIR, ROOT, SUMS_NAME, TARGETS, sha256, WINDOWS_ZIP_FILES, assetName, zipName, type Target } from './release-manifest.js';

/** Generous: Wine on a busy 2-core machine starts a process in seconds, not milliseconds. */
const WAIT_MS = 90_000;
const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function step(text: string): void {
  process.stdout.write(`  ${text}\n`);
}

/** How to start one executable: natively, or through Wine with its paths as Wine's Z: drive shows them. */
interface Runner {
  command: string;
  prefixArgs: string[];
  env: NodeJS.ProcessEnv;
  exePath: (file: string) => string;
  stopSignal: NodeJS.Signals;
}

function nativeRunner(exe: string): Runner {
  return { command: exe, prefixArgs: [], env: cleanEnv(), exePath: (file) => file, stopSignal: 'SIGTERM' };
}

function wineRunner(exe: string, work: string): Runner {
  const prefix = process.env.WINEPREFIX ?? path.join(ROOT, '.cache', 'wine-prefix');
  const env = { ...cleanEnv(), WINEPREFIX: prefix, WINEDEBUG: process.env.WINEDEBUG ?? '-all' };
  if (!fs.existsSync(path.join(prefix, 'system.reg'))) {
    step(`setting up the Wine prefix ${prefix}`);
    // Wine's output goes to a file, not a pipe: with a pipe, Wine's helper processes can keep it open.
    const out = fs.openSync(path.join(work, 'winecfg.log'), 'w');
    const result = spawnSync('winecfg', ['-v', 'win10'], { env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    if (result.status !== 0) throw new Error(`winecfg -v win10 failed (${result.error?.message ?? result.status}); see ${work}/winecfg.log`);
  }
  return { command: 'wine', prefixArgs: [exe], env, exePath: (file) => `Z:${file.replaceAll('/', '\\')}`, stopSignal: 'SIGINT' };
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MAILROOT_') && key !== 'NODE_OPTIONS'));
}

interface Started {
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
  stdout: () => string;
  stderr: () => string;
}

/** Starts the executable with stdout and stderr in files (Wine and pipes do not mix) and stdin from a file. */
function start(runner: Runner, work: string, label: string, args: string[], stdin?: string): Started {
  const outFile = path.join(work, `${label}.out`);
  const errFile = path.join(work, `${label}.err`);
  const inFile = path.join(work, `${label}.in`);
  fs.writeFileSync(inFile, stdin ?? '');
  const fds = [fs.openSync(inFile, 'r'), fs.openSync(outFile, 'w'), fs.openSync(errFile, 'w')];
  const child = spawn(runner.command, [...runner.prefixArgs, ...args], { cwd: work, env: runner.env, stdio: fds });
  for (const fd of fds) fs.closeSync(fd);
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  return {
    exited,
    kill: (signal) => child.kill(signal),
    stdout: () => fs.readFileSync(outFile, 'utf8'),
    stderr: () => fs.readFileSync(errFile, 'utf8'),
  };
}

async function runToEnd(runner: Runner, work: string, label: string, args: string[], stdin?: string): Promise<{ stdout: string; stderr: string }> {
  const run = start(runner, work, label, args, stdin);
  const timer = setTimeout(() => run.kill('SIGKILL'), WAIT_MS);
  const code = await run.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${label} exited ${code}:\n${run.stderr()}`);
  return { stdout: run.stdout(), stderr: run.stderr() };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function withSubject(received: ReceivedMessage[], subject: string): ReceivedMessage | undefined {
  return received.find((message) => message.data.toString('latin1').includes(`Subject: ${subject}`));
}

/** The executable as a user runs it: versions, a password hash, and a relay that relays and stops. */
async function checkExecutable(runner: Runner, work: string, config: string): Promise<void> {
  const expected = `mailroot ${version} (Node.js v${NODE_VERSION}, single executable)`;
  const shown = (await runToEnd(runner, work, 'version', ['--version'])).stdout.trim();
  if (shown !== expected) throw new Error(`--version printed "${shown}", expected "${expected}"`);
  step(`--version: ${shown}`);

  const hashed = (await runToEnd(runner, work, 'hash-password', ['hash-password', '--user', 'ca'], 'release-check\n')).stdout.trim();
  const parsed = parsePasswordHash(hashed.replace(/^ca:/, ''));
  if (!hashed.startsWith('ca:') || !parsed.ok || !(await verifyPassword('release-check', parsed.value))) {
    throw new Error(`hash-password printed "${hashed}", not a hash of the password given`);
  }
  step('hash-password: a hash that verifies');

  // The service command, as the exe would install itself: WinSW's XML runs this very executable with serve.
  const printed = (await runToEnd(runner, work, 'service-print', ['service', 'print', '--platform', 'windows', '--config', config])).stdout;
  if (!/<executable>[^<]*mailroot[^<]*<\/executable>/i.test(printed) || !/serve/.test(printed)) {
    throw new Error(`service print did not describe a service running this executable with serve:\n${printed}`);
  }
  step('service print: a WinSW service running the executable itself');

  const mailroot = path.join(work, 'spool');
  const upstream = await new Upstream().start();
  const port = await unusedPort();
  const relay = start(runner, work, 'serve', [
    'serve',
    '--config', runner.exePath(config),
    '--mailroot', runner.exePath(mailroot),
    '--listen', `127.0.0.1:${port}`,
    '--smart-host', upstream.address,
    '--hostname', 'relay.check',
  ]);
  let exitCode: number | null | undefined;
  void relay.exited.then((code) => (exitCode = code));
  try {
    await eventually(async () => {
      if (exitCode !== undefined) throw new Error(`serve exited ${exitCode} before listening`);
      return canConnect(port);
    }, WAIT_MS, 'the relay to listen');
    step('serve: listening');

    const from = 'ca@relay.check';
    await sendMail({ port, from, to: ['admin@example.com'], subject: 'release-check smtp', text: 'over SMTP' });
    await eventually(() => withSubject(upstream.received, 'release-check smtp') !== undefined, WAIT_MS, 'the SMTP message upstream');
    step('SMTP: relayed to the smart host');

    const pickupFile = path.join(mailroot, 'release-check.tmp');
    fs.writeFileSync(pickupFile, `X-Sender: ${from}\r\nX-Receiver: admin@example.com\r\nSubject: release-check pickup\r\n\r\nfrom Pickup\r\n`);
    fs.renameSync(pickupFile, path.join(mailroot, 'Pickup', 'release-check.eml'));
    await eventually(() => withSubject(upstream.received, 'release-check pickup') !== undefined, WAIT_MS, 'the Pickup message upstream');
    step('Pickup: a dropped file relayed');

    await dropIntoQueue(path.join(mailroot, 'Queue'), 'release-check-moved.eml', from, ['admin@example.com'], 'Subject: release-check queue\r\n\r\nmoved into Queue\r\n');
    await eventually(() => withSubject(upstream.received, 'release-check queue') !== undefined, WAIT_MS, 'the moved Queue message upstream');
    await eventually(async () => (await filesIn(path.join(mailroot, 'Queue'), '.eml')).length === 0, WAIT_MS, 'Queue to empty');
    step('Queue: a file moved in relayed, Queue empty');

    const bad = await filesIn(path.join(mailroot, 'Badmail'));
    if (bad.length > 0 || upstream.received.length !== 3) throw new Error(`Badmail holds ${bad.join(', ') || 'nothing'}; upstream got ${upstream.received.length} messages, not 3`);

    relay.kill(runner.stopSignal);
    const timer = setTimeout(() => relay.kill('SIGKILL'), WAIT_MS);
    const code = await relay.exited;
    clearTimeout(timer);
    if (code !== 0 || !relay.stderr().includes('relay stopped')) throw new Error(`on ${runner.stopSignal} serve exited ${code}`);
    step(`stop: exit 0 on ${runner.stopSignal}`);
  } catch (err) {
    relay.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- the relay's stderr ---\n${relay.stderr()}`);
  } finally {
    await upstream.stop();
  }
}

async function checkSums(): Promise<void> {
  const sums = path.join(RELEASE_DIR, SUMS_NAME);
  if (!fs.existsSync(sums)) throw new Error(`${sums} is missing: run npm run release first`);
  const lines = fs.readFileSync(sums, 'utf8').trim().split('\n');
  const expected = [...TARGETS.map((target) => assetName(version, target)), zipName(version)].sort();
  const listed = lines.map((line) => line.slice(66)).sort();
  if (JSON.stringify(listed) !== JSON.stringify(expected)) throw new Error(`${SUMS_NAME} lists ${listed.join(', ')}, not ${expected.join(', ')}`);
  for (const line of lines) {
    const [sum, name] = [line.slice(0, 64), line.slice(66)];
    if ((await sha256(path.join(RELEASE_DIR, name))) !== sum) throw new Error(`${name} does not match its line in ${SUMS_NAME}`);
  }
  step(`${SUMS_NAME}: ${lines.length} assets match`);
}

/** Unpacks the zip into `work` and checks it holds mailroot.exe (the same bytes as the exe asset) and WINDOWS_ZIP_FILES. */
async function unpackWindowsZip(target: Target, work: string): Promise<string> {
  const zip = new AdmZip(path.join(RELEASE_DIR, zipName(version)));
  const names = zip.getEntries().map((entry) => entry.entryName).sort();
  const expected = ['mailroot.exe', ...WINDOWS_ZIP_FILES.map(([, name]) => name)].sort();
  if (JSON.stringify(names) !== JSON.stringify(expected)) throw new Error(`the zip holds ${names.join(', ')}, not ${expected.join(', ')}`);
  zip.extractAllTo(work, true);
  const exe = path.join(work, 'mailroot.exe');
  if ((await sha256(exe)) !== (await sha256(path.join(RELEASE_DIR, assetName(version, target))))) throw new Error('the zip\'s mailroot.exe is not the exe asset');
  step(`zip: ${names.join(', ')}`);
  const described = describeMailrootExe(fs.readFileSync(exe));
  if (described.signed || described.product !== 'mailroot' || described.version !== version) {
    throw new Error(`mailroot.exe: ${JSON.stringify(described)}, expected unsigned, product mailroot, version ${version}`);
  }
  step(`mailroot.exe: unsigned, version resource "mailroot ${version}"`);
  return exe;
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('the release check runs on Linux (the Windows exe under Wine)');
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
  const targets = TARGETS.filter((target) => only === undefined || target.name === only);
  if (targets.length === 0) throw new Error(`--only takes ${TARGETS.map((target) => target.name).join(' or ')}`);
  await checkSums();
  for (const target of targets) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `mailroot-release-${target.name}-`));
    const began = Date.now();
    process.stdout.write(`${target.name} (in ${work}):\n`);
    if (target.name === 'win-x64') {
      const exe = await unpackWindowsZip(target, work);
      await checkExecutable(wineRunner(exe, work), work, path.join(work, 'mailroot.json'));
    } else {
      const exe = path.join(work, 'mailroot');
      fs.copyFileSync(path.join(RELEASE_DIR, assetName(version, target)), exe);
      fs.chmodSync(exe, 0o755);
      fs.copyFileSync(path.join(ROOT, 'scripts/release-files/mailroot.json'), path.join(work, 'mailroot.json'));
      await checkExecutable(nativeRunner(exe), work, path.join(work, 'mailroot.json'));
    }
    process.stdout.write(`${target.name}: passed in ${((Date.now() - began) / 1000).toFixed(1)} s\n`);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`release check FAILED: ${(err as Error).message}\n`);
  process.exit(1);
});
