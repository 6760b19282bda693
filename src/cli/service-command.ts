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
import { EXIT_ATTENTION, EXIT_USAGE, type CommandContext } from './command-output.js';

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

function managerFor(context: CommandContext, args: ServiceArgs): ServiceManager {
  const platform = args.platform ?? (process.platform === 'win32' ? 'windows' : 'linux');
  if (platform === 'windows') {
    const folder = args.serviceFolder !== undefined ? path.resolve(context.cwd, args.serviceFolder) : defaultServiceFolder(context.env);
    return new WindowsService({ folder, ...(args.winsw ? { winsw: path.resolve(context.cwd, args.winsw) } : {}) });
  }
  return new LinuxService(args.unitFolder ? { unitFolder: path.resolve(context.cwd, args.unitFolder) } : {});
}

/** The config file the service will run with: --config, or mailroot.json in the working folder. */
function configFileOf(context: CommandContext, args: ServiceArgs): string {
  const file = path.resolve(context.cwd, args.config ?? 'mailroot.json');
  if (!fs.existsSync(file)) {
    throw new ServiceError(`the service runs with a config file: pass --config FILE (${file} does not exist)`);
  }
  return file;
}

async function readStdinLine(context: CommandContext): Promise<string> {
  if (context.stdin.isTTY) throw new ServiceError('--account: pipe the account\'s password on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of context.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

async function runService(context: CommandContext, args: ServiceArgs): Promise<string> {
  const manager = managerFor(context, args);
  switch (args.action) {
    case 'install':
    case 'print': {
      const configFile = configFileOf(context, args);
      const config = loadConfig({ configFile, cwd: path.dirname(configFile), env: context.env }); // refuse a config serve would refuse
      const spec = serviceSpec({ configFile, mailroot: config.mailroot, logFile: config.logFile, account: args.account });
      const windowsAccount = args.account !== undefined && manager instanceof WindowsService;
      if (args.action === 'print') return manager.describe(spec, windowsAccount ? '(the password, read at install)' : undefined);
      return manager.install(spec, windowsAccount ? await readStdinLine(context) : undefined);
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

export const serviceCommand = (context: CommandContext) => (yargs: Argv): Argv =>
  yargs.command(
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
        context.stdout.write(`${await runService(context, argv as unknown as ServiceArgs)}\n`);
      } catch (err) {
        if (err instanceof ServiceError || err instanceof ConfigError) {
          context.stderr.write(`mailroot: ${err.message}\n`);
          context.exitCode = err instanceof ConfigError ? EXIT_USAGE : EXIT_ATTENTION;
          return;
        }
        throw err;
      }
    },
  );
