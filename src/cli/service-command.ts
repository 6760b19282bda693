// `mailroot service install|uninstall|start|stop|status|print`: the relay as a Windows service (through WinSW) or
// a systemd unit on Linux. The service runs `serve --config FILE` from the config file's folder.
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/schema.js';
import { LinuxService } from '../service/linux-service.js';
import { ServiceError, type ServiceManager } from '../service/service-manager.js';
import { serviceSpec } from '../service/service-spec.js';
import { WindowsService, defaultServiceFolder } from '../service/windows-service.js';

const ACTIONS = ['install', 'uninstall', 'start', 'stop', 'status', 'print'] as const;
type Action = (typeof ACTIONS)[number];

interface ServiceArgs {
  action: Action;
  config?: string | undefined;
  account?: string | undefined;
  platform?: 'windows' | 'linux' | undefined;
  serviceFolder?: string | undefined;
  unitFolder?: string | undefined;
  winsw?: string | undefined;
}

function managerFor(args: ServiceArgs): ServiceManager {
  const platform = args.platform ?? (process.platform === 'win32' ? 'windows' : 'linux');
  if (platform === 'windows') {
    return new WindowsService({ folder: args.serviceFolder ?? defaultServiceFolder(), ...(args.winsw ? { winsw: args.winsw } : {}) });
  }
  return new LinuxService(args.unitFolder ? { unitFolder: args.unitFolder } : {});
}

/** The config file the service will run with: --config, or mailroot.json in the working folder. */
function configFileOf(args: ServiceArgs): string {
  const file = path.resolve(args.config ?? 'mailroot.json');
  if (!fs.existsSync(file)) {
    throw new ServiceError(`the service runs with a config file: pass --config FILE (${file} does not exist)`);
  }
  return file;
}

async function readStdinLine(): Promise<string> {
  if (process.stdin.isTTY) throw new ServiceError('--account: pipe the account\'s password on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

async function runService(args: ServiceArgs): Promise<string> {
  const manager = managerFor(args);
  switch (args.action) {
    case 'install':
    case 'print': {
      const configFile = configFileOf(args);
      const config = loadConfig({ configFile, cwd: path.dirname(configFile) }); // refuse a config serve would refuse
      const spec = serviceSpec({ configFile, mailroot: config.mailroot, logFile: config.logFile, account: args.account });
      const windowsAccount = args.account !== undefined && manager instanceof WindowsService;
      if (args.action === 'print') return manager.describe(spec, windowsAccount ? '(the password, read at install)' : undefined);
      return manager.install(spec, windowsAccount ? await readStdinLine() : undefined);
    }
    case 'uninstall':
      return manager.uninstall();
    case 'start':
      return manager.start();
    case 'stop':
      return manager.stop();
    case 'status':
      return manager.status();
  }
}

export function serviceCommand(yargs: Argv): Argv {
  return yargs.command(
    'service <action>',
    'Install, remove, start, stop or show the relay as a Windows service (WinSW) or a systemd unit (Linux); "print" shows the file install writes',
    (y) =>
      y
        .positional('action', { choices: ACTIONS, describe: 'What to do' })
        .option('account', { type: 'string', describe: 'Run as this account ("DOMAIN\\user" on Windows, password on standard input; a user on Linux) instead of LocalSystem or root' })
        .option('platform', { choices: ['windows', 'linux'] as const, describe: 'Whose service to manage (default: this machine\'s); "print" can show the other' })
        .option('service-folder', { type: 'string', describe: 'Windows: where the wrapper, its XML and its logs go (default %ProgramData%\\mailroot\\service)' })
        .option('unit-folder', { type: 'string', describe: 'Linux: where the unit goes (default /etc/systemd/system)' })
        .option('winsw', { type: 'string', describe: 'Windows: the WinSW executable to use (default: the one shipped in node-windows)' }),
    async (argv) => {
      try {
        process.stdout.write(`${await runService(argv as unknown as ServiceArgs)}\n`);
      } catch (err) {
        if (err instanceof ServiceError || err instanceof ConfigError) {
          process.stderr.write(`mailroot: ${err.message}\n`);
          process.exit(err instanceof ConfigError ? 2 : 1);
        }
        throw err;
      }
    },
  );
}
