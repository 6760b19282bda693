import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { STOP_MESSAGE } from '../../src/cli/stop-requests.js';
import { runCliHere } from '../helpers/cli.js';
import { sendMail } from '../helpers/client.js';
import { filesIn, tempMailroot } from '../helpers/relay.js';
import { START_LIMIT_MS } from '../helpers/relay-process.js';
import { Upstream } from '../helpers/upstream.js';
import { unusedPort } from '../helpers/ports.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

interface Run {
  code: number | null;
  stderr: string;
}

/** How the test asks the relay to stop: a signal (POSIX only: Windows' kill() terminates) or the IPC stop message. */
type StopWith = NodeJS.Signals | 'message';

function run(args: string[], options: { cwd: string; env?: Record<string, string>; untilStderr?: RegExp; stopWith?: StopWith; during?: () => Promise<void> }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILROOT_')));
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd, env: { ...env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const stopWith = options.stopWith ?? 'message';
    child.channel?.unref();
    let stderr = '';
    let signalled = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), START_LIMIT_MS + 5_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!signalled && options.untilStderr?.test(stderr)) {
        signalled = true;
        (options.during ?? (async () => undefined))().then(
          () => (stopWith === 'message' ? child.send(STOP_MESSAGE) : child.kill(stopWith)),
          (err: unknown) => {
            child.kill('SIGKILL');
            reject(err);
          },
        );
      }
    });
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr });
    });
  });
}

describe('command line', () => {
  it('exits 2 and names the key for a bad value, from a flag, the environment or the file', async () => {
    const cwd = await tempMailroot();
    // As its own process: exit 2 is what the shell (or the service manager) sees.
    const flag = await run(['serve', '--smart-host', 'h:25', '--max-message-size', 'huge'], { cwd });
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /maxMessageSize must be a size .*"huge".*flag --max-message-size/);

    // The other sources through the same command line, run in this process.
    const env = await runCliHere(['--smart-host', 'h:25'], { cwd, env: { MAILROOT_RETRY: '15m,soon' } });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /retry must be a duration .*"soon".*MAILROOT_RETRY/);

    await fs.writeFile(path.join(cwd, 'mailroot.json'), JSON.stringify({ smartHost: 'h:25', expire: 'never' }));
    const file = await runCliHere([], { cwd });
    assert.equal(file.code, 2);
    assert.match(file.stderr, /expire must be a duration .*"never".*mailroot\.json/);

    await fs.writeFile(path.join(cwd, 'mailroot.json'), JSON.stringify({ smartHost: 'h:25', smartHots: 'typo' }));
    const unknown = await runCliHere([], { cwd });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown key "smartHots"/);

    await fs.rm(path.join(cwd, 'mailroot.json'));
    const missing = await runCliHere([], { cwd });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /smartHost is required/);

    const badFlag = await runCliHere(['--smart-hots', 'x'], { cwd });
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /Unknown arguments?: smart-hots/);
  });

  const posixOnly = process.platform === 'win32' ? 'Windows has no POSIX signals: kill() terminates at once (the stop message is tested instead)' : false;
  const cases: { stopWith: StopWith; skip: string | false }[] = [
    { stopWith: 'message', skip: false },
    { stopWith: 'SIGTERM', skip: posixOnly },
    { stopWith: 'SIGINT', skip: posixOnly },
    { stopWith: 'SIGHUP', skip: posixOnly },
  ];
  for (const { stopWith, skip } of cases) {
    it(`runs \`serve\`, accepts mail, and on ${stopWith === 'message' ? 'the IPC stop message' : stopWith} stops cleanly with exit 0`, { skip }, async () => {
      const cwd = await tempMailroot();
      const upstream = await new Upstream().start();
      const port = await unusedPort();
      try {
        const result = await run(['serve', '--listen', `127.0.0.1:${port}`, '--hostname', 'cli.test'], {
          cwd,
          env: { MAILROOT_SMART_HOST: upstream.address },
          untilStderr: /listening/,
          stopWith,
          during: async () => {
            await sendMail({ port, from: 'a@example.com', to: ['b@example.net'] });
            await upstream.waitFor(1);
          },
        });
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, /accepted id="/);
        assert.match(result.stderr, /attempt .*result="delivered"/);
        assert.match(result.stderr, new RegExp(`stopping reason="${stopWith === 'message' ? 'stop message' : stopWith}"`));
        assert.match(result.stderr, /relay stopped/);
        assert.deepEqual(await filesIn(path.join(cwd, 'spool', 'Queue')), []);
        await assert.rejects(fs.access(path.join(cwd, 'spool', 'mailroot.lock')), 'lock released on exit');
      } finally {
        await upstream.stop();
      }
    });
  }
});
