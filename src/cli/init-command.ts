// `mailroot init`: creates a mailroot (the five IIS folders and Hold) and a starter config for this machine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { keySpec } from '../config/schema.js';
import { holdFolder, prepareLayout } from '../spool/layout.js';
import { CommandError, EXIT_OK, EXIT_USAGE, runCommand, type CommandContext } from './command-output.js';

interface InitArgs {
  config?: string;
  mailroot?: string;
  smartHost?: string;
  force: boolean;
}

/** Where IIS kept its mailroot; the natural place on Windows. Elsewhere, ./spool (the mailroot key's default). */
function defaultMailroot(context: CommandContext): string {
  if (process.platform === 'win32') return path.win32.join(context.env.SystemDrive ?? 'C:', '\\inetpub\\mailroot');
  return path.resolve(context.cwd, 'spool');
}

export const initCommand = (context: CommandContext): CommandModule<object, InitArgs> => ({
  command: 'init',
  describe: 'Create a mailroot and a starter config (mailroot.json, or --config) for this machine',
  builder: (y: Argv) =>
    y
      .option('mailroot', { type: 'string', describe: 'Mailroot folder to create (default C:\\inetpub\\mailroot on Windows, ./spool elsewhere)' })
      .option('smart-host', { type: 'string', describe: 'Upstream SMTP server, "host:port"' })
      .option('force', { type: 'boolean', default: false, describe: 'Overwrite an existing config file' }) as unknown as Argv<InitArgs>,
  handler: (argv) => runCommand(context, () => init(context, argv)),
});

async function init(context: CommandContext, argv: InitArgs): Promise<number> {
  const file = path.resolve(context.cwd, argv.config ?? 'mailroot.json');
  const mailroot = path.resolve(context.cwd, argv.mailroot ?? defaultMailroot(context));
  if (argv.smartHost !== undefined) {
    const parsed = keySpec('smartHost').parse(argv.smartHost);
    if (!parsed.ok) throw new CommandError(`--smart-host ${parsed.reason}`, EXIT_USAGE);
  }
  const starter: Record<string, unknown> = {
    mailroot,
    ...(argv.smartHost !== undefined ? { smartHost: argv.smartHost } : {}),
    hostname: os.hostname(),
    listen: ['127.0.0.1:25', '[::1]:25'],
    allowRelay: ['127.0.0.0/8', '::1/128'],
    localDomains: [],
  };
  try {
    fs.writeFileSync(file, JSON.stringify(starter, null, 2) + '\n', { flag: argv.force ? 'w' : 'wx' });
  } catch (err) {
    const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
    throw new CommandError(exists ? `${file} exists; pass --force to overwrite it` : `cannot write ${file}: ${(err as Error).message}`, EXIT_USAGE);
  }
  const layout = await prepareLayout(mailroot);
  const hold = await holdFolder(mailroot, { create: true });
  const lines = [
    `Wrote ${file}`,
    `Mailroot ${layout.root}: ${[layout.pickup, layout.queue, layout.badmail, layout.drop, layout.sortTemp, hold].map((d) => path.basename(d)).join(', ')}`,
  ];
  if (argv.smartHost === undefined) lines.push(`Set "smartHost" in ${file} (the upstream SMTP server) before starting.`);
  lines.push(`Check it with: mailroot check-config${argv.config ? ` --config ${argv.config}` : ''}`, 'Start with: mailroot serve');
  context.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}
