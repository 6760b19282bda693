// The service files install writes (WinSW's XML, the systemd unit) and the install/uninstall steps against a
// recording stand-in for the service manager (the Service Control Manager and systemd cannot exist here).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LinuxService } from '../../src/service/linux-service.js';
import type { CommandResult, RunCommand } from '../../src/service/run-command.js';
import { ServiceError } from '../../src/service/service-manager.js';
import { serviceSpec, type ServiceSpec } from '../../src/service/service-spec.js';
import { quoteSystemdWord, systemdUnit } from '../../src/service/systemd-unit.js';
import { WindowsService } from '../../src/service/windows-service.js';
import { quoteWindowsArgument, winswConfig } from '../../src/service/winsw-config.js';
import { tempMailroot } from '../helpers/relay.js';

const windowsSpec: ServiceSpec = {
  executable: 'C:\\Program Files\\nodejs\\node.exe',
  arguments: ['C:\\Program Files\\mailroot\\dist\\src\\cli\\main.js', 'serve', '--config', 'C:\\R&D mail\\mailroot.json'],
  workingDirectory: 'C:\\R&D mail',
  writablePaths: ['C:\\inetpub\\mailroot'],
};

function recorder(answer: (program: string, args: string[]) => CommandResult = () => ({ code: 0, output: 'ok' })) {
  const calls: string[] = [];
  const run: RunCommand = async (program, args) => {
    calls.push([path.basename(program), ...args].join(' '));
    return answer(program, args);
  };
  return { calls, run };
}

describe('Windows service (WinSW)', () => {
  it('writes a WinSW configuration that quotes paths with spaces, escapes XML and stops with Ctrl+C', () => {
    const xml = winswConfig(windowsSpec, { logDirectory: 'C:\\ProgramData\\mailroot\\service\\logs' });
    assert.match(xml, /<id>mailroot<\/id>/);
    assert.match(xml, /<executable>C:\\Program Files\\nodejs\\node\.exe<\/executable>/);
    assert.match(xml, /<arguments>&quot;C:\\Program Files\\mailroot\\dist\\src\\cli\\main\.js&quot; serve --config &quot;C:\\R&amp;D mail\\mailroot\.json&quot;<\/arguments>/);
    assert.match(xml, /<workingdirectory>C:\\R&amp;D mail<\/workingdirectory>/);
    assert.match(xml, /<stopparentprocessfirst>true<\/stopparentprocessfirst>/);
    assert.match(xml, /<stoptimeout>20 sec<\/stoptimeout>/);
    assert.match(xml, /<onfailure action="restart" delay="10 sec"\/>/);
    assert.doesNotMatch(xml, /serviceaccount/, 'LocalSystem when no account is named');
    const named = winswConfig({ ...windowsSpec, account: 'CORP\\svc-mail' }, { logDirectory: 'C:\\logs', password: 'p<w>&"' });
    assert.match(named, /<domain>CORP<\/domain>\s*<user>svc-mail<\/user>\s*<password>p&lt;w&gt;&amp;&quot;<\/password>/);
  });

  it('quotes arguments so that a Windows program reads them back unchanged', { skip: process.platform !== 'win32' && 'the Windows command-line parser runs only under node.exe (the Wine run)' }, () => {
    const args = ['C:\\Program Files\\x', 'a "quoted" word', 'trailing\\', 'C:\\dir with space\\', '', 'plain'];
    const line = ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...args].map(quoteWindowsArgument).join(' ');
    const result = spawnSync(process.execPath, [line], { windowsVerbatimArguments: true, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(result.stdout), args);
  });

  it('installs through the wrapper once, refuses a second install, and removes its files on uninstall', async () => {
    const root = await tempMailroot();
    const winsw = path.join(root, 'winsw.exe');
    await fs.writeFile(winsw, 'stand-in for winsw.exe');
    const folder = path.join(root, 'Program Data', 'mailroot service');
    const { calls, run } = recorder();
    const service = new WindowsService({ folder, winsw, run });
    assert.equal(await service.status(), 'not installed');
    await service.install(windowsSpec);
    assert.deepEqual(calls, ['mailroot-service.exe install', 'mailroot-service.exe start'], 'installed, then started (as systemd\'s enable --now)');
    assert.equal(await fs.readFile(path.join(folder, 'mailroot-service.exe'), 'utf8'), 'stand-in for winsw.exe');
    assert.match(await fs.readFile(path.join(folder, 'mailroot-service.xml'), 'utf8'), /<logpath>.*mailroot service[\\/]logs<\/logpath>/);
    await assert.rejects(service.install(windowsSpec), (err: Error) => err instanceof ServiceError && /already installed/.test(err.message));
    assert.equal(calls.length, 2, 'the second install asked the wrapper nothing');
    await service.stop();
    await service.start();
    await service.uninstall();
    assert.deepEqual(calls.slice(2), ['mailroot-service.exe stop', 'mailroot-service.exe start', 'mailroot-service.exe stop', 'mailroot-service.exe uninstall']);
    assert.deepEqual(await fs.readdir(folder), ['logs']);
    await assert.rejects(service.start(), /not installed/);
  });

  it('leaves nothing behind when the wrapper refuses to install', async () => {
    const root = await tempMailroot();
    const winsw = path.join(root, 'winsw.exe');
    await fs.writeFile(winsw, 'x');
    const folder = path.join(root, 'service');
    const { run } = recorder(() => ({ code: 1, output: 'Installation failure: access denied' }));
    const service = new WindowsService({ folder, winsw, run });
    await assert.rejects(service.install(windowsSpec), /service install failed .*access denied/);
    assert.deepEqual(await fs.readdir(folder), ['logs']);
  });
});

describe('Linux service (systemd)', () => {
  // A literal spec: serviceSpec() resolves paths the host's way (Windows ones under node.exe).
  const spec: ServiceSpec = {
    executable: '/usr/bin/node',
    arguments: ['/opt/mailroot 1%/dist/src/cli/main.js', 'serve', '--config', '/etc/mail root/mailroot.json'],
    workingDirectory: '/etc/mail root',
    writablePaths: ['/var/spool/mail root', '/var/log/mailroot'],
  };

  it('writes a hardened unit that runs serve --config from the config folder', () => {
    const unit = systemdUnit(spec);
    assert.match(unit, /^ExecStart="\/usr\/bin\/node" "\/opt\/mailroot 1%%\/dist\/src\/cli\/main\.js" "serve" "--config" "\/etc\/mail root\/mailroot\.json"$/m);
    assert.match(unit, /^WorkingDirectory=\/etc\/mail root$/m);
    assert.match(unit, /^ReadWritePaths=\/var\/spool\/mail\\x20root \/var\/log\/mailroot$/m);
    for (const line of ['Restart=on-failure', 'KillMode=mixed', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'WantedBy=multi-user.target']) {
      assert.ok(unit.split('\n').includes(line), line);
    }
    assert.doesNotMatch(unit, /^User=/m, 'root unless an account is named');
    assert.match(systemdUnit({ ...spec, account: 'mailroot' }), /^User=mailroot$/m);
    assert.equal(quoteSystemdWord('a"b\\c$d'), '"a\\"b\\\\c$$d"');
  });

  const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  it('writes a unit that systemd itself accepts (systemd-analyze verify)', { skip: !analyze && 'systemd-analyze is not installed' }, async () => {
    const folder = path.join(await tempMailroot(), 'mail root');
    await fs.mkdir(folder);
    const unitFile = path.join(folder, 'mailroot.service');
    const real = serviceSpec({ configFile: path.join(folder, 'mailroot.json'), mailroot: folder });
    await fs.writeFile(unitFile, systemdUnit(real));
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', unitFile], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /Unknown|ignoring|Invalid/i);
  });

  it('installs, enables and starts once, refuses a second install, and uninstalls', async () => {
    const unitFolder = await tempMailroot();
    const { calls, run } = recorder();
    const service = new LinuxService({ unitFolder, run });
    await service.install(spec);
    assert.deepEqual(calls, ['systemctl daemon-reload', 'systemctl enable --now mailroot.service']);
    assert.equal(await fs.readFile(path.join(unitFolder, 'mailroot.service'), 'utf8'), systemdUnit(spec));
    await assert.rejects(service.install(spec), /already installed .*mailroot service uninstall/);
    assert.equal(calls.length, 2);
    await service.uninstall();
    assert.deepEqual(calls.slice(2), ['systemctl disable --now mailroot.service', 'systemctl daemon-reload']);
    assert.deepEqual(await fs.readdir(unitFolder), []);
  });

  it('removes the unit again when systemctl cannot enable it', async () => {
    const unitFolder = await tempMailroot();
    const { run } = recorder((_program, args) => (args[0] === 'enable' ? { code: 1, output: 'System has not been booted with systemd' } : { code: 0, output: '' }));
    await assert.rejects(new LinuxService({ unitFolder, run }).install(spec), /systemctl enable --now mailroot.service failed .*not been booted/);
    assert.deepEqual(await fs.readdir(unitFolder), []);
  });
});
