// `mailroot service` through the command line (run in this process): what install would write, and the refusals
// that need no service manager.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCliHere } from '../helpers/cli.js';
import { tempMailroot } from '../helpers/relay.js';

async function mailroot(args: string[], cwd: string) {
  const run = await runCliHere(['service', ...args], { cwd, input: '' });
  return { status: run.code, stdout: run.stdout, stderr: run.stderr };
}

describe('mailroot service (command line)', () => {
  it('prints the WinSW configuration and the systemd unit for a config in a folder with spaces', async () => {
    const folder = path.join(await tempMailroot(), 'mail relay');
    await fs.mkdir(folder);
    const config = path.join(folder, 'mailroot.json');
    await fs.writeFile(config, JSON.stringify({ smartHost: 'mx.example.com:25', mailroot: 'spool' }));
    const windows = await mailroot(['print', '--platform', 'windows', '--config', config], folder);
    assert.equal(windows.status, 0, windows.stderr);
    assert.match(windows.stdout, /<arguments>--max-semi-space-size=4 --heap-growing-percent=20 (&quot;)?.*main\.js(&quot;)? serve --config &quot;.*mail relay[\\/]mailroot\.json&quot;<\/arguments>/);
    const linux = await mailroot(['print', '--platform', 'linux'], folder); // mailroot.json in the working folder
    assert.equal(linux.status, 0, linux.stderr);
    // [\\/]+: under node.exe the paths are Windows ones, their backslashes doubled by the unit's escaping.
    assert.match(linux.stdout, /^ExecStart=".*" ".*main\.js" "serve" "--config" ".*mail relay[\\/]+mailroot\.json"$/m);
    assert.match(linux.stdout, /^ReadWritePaths=.*mail\\x20relay[\\/]+spool$/m);
  });

  it('refuses without a config file, with a bad config, and to stop or remove a service that is not installed', async () => {
    const folder = await tempMailroot();
    const noConfig = await mailroot(['install', '--platform', 'linux', '--unit-folder', folder], folder);
    assert.equal(noConfig.status, 1);
    assert.match(noConfig.stderr, /the service runs with a config file: pass --config FILE/);
    await fs.writeFile(path.join(folder, 'mailroot.json'), JSON.stringify({ smartHost: 'mx:25', retry: 'soon' }));
    const badConfig = await mailroot(['install', '--platform', 'linux', '--unit-folder', folder], folder);
    assert.equal(badConfig.status, 2);
    assert.match(badConfig.stderr, /retry must be a duration/);
    const stop = await mailroot(['stop', '--platform', 'linux', '--unit-folder', folder], folder);
    assert.equal(stop.status, 1);
    assert.match(stop.stderr, /not installed/);
    const status = await mailroot(['status', '--platform', 'windows', '--service-folder', folder], folder);
    assert.equal(status.status, 0);
    assert.equal(status.stdout.trim(), 'not installed');
    const uninstall = await mailroot(['uninstall', '--platform', 'windows', '--service-folder', folder], folder);
    assert.equal(uninstall.status, 1);
    assert.match(uninstall.stderr, /not installed/);
  });
});
