// `mailroot import-iis MetaBase.xml`: writes a mailroot config from an IIS 6 SMTP virtual server's settings and
// prints what became of each one.
import fs from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ImportError, importIisServer } from '../import-iis/import.js';
import { MetabaseError, parseMetabase } from '../import-iis/metabase.js';
import { formatImportReport } from '../import-iis/report.js';
import { CommandError, EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, printJson, runCommand, type CommandContext } from './command-output.js';

interface ImportArgs {
  metabase: string;
  server?: string;
  out: string;
  force: boolean;
  acceptOpenRelay: boolean;
  json: boolean;
}

export const importIisCommand = (context: CommandContext): CommandModule<object, ImportArgs> => ({
  command: 'import-iis <metabase>',
  describe: 'Write a mailroot config from an IIS 6 SMTP server\'s MetaBase.xml, with a report of every setting',
  builder: (y: Argv) =>
    y
      .positional('metabase', { type: 'string', demandOption: true, describe: 'Path of MetaBase.xml (C:\\Windows\\System32\\inetsrv\\MetaBase.xml)' })
      .option('server', { type: 'string', describe: 'Virtual server number (/LM/SmtpSvc/N); default 1' })
      .option('out', { type: 'string', default: 'mailroot.json', describe: 'Config file to write' })
      .option('force', { type: 'boolean', default: false, describe: 'Overwrite the config file if it exists' })
      .option('accept-open-relay', { type: 'boolean', default: false, describe: 'Carry over an "All except the list below" relay setting (an open relay)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the config and the report as JSON' }) as unknown as Argv<ImportArgs>,
  handler: (argv) => runCommand(context, () => importIis(context, argv)),
});

function importIis(context: CommandContext, argv: ImportArgs): number {
  let xml: string;
  try {
    xml = fs.readFileSync(path.resolve(context.cwd, argv.metabase), 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read ${argv.metabase}: ${(err as Error).message}`, EXIT_USAGE);
  }
  let result;
  try {
    result = importIisServer(parseMetabase(xml), { server: argv.server, acceptOpenRelay: argv.acceptOpenRelay });
  } catch (err) {
    if (err instanceof MetabaseError || err instanceof ImportError) throw new CommandError(`${argv.metabase}: ${err.message}`, EXIT_USAGE);
    throw err;
  }
  const out = path.resolve(context.cwd, argv.out);
  try {
    fs.writeFileSync(out, JSON.stringify(result.config, null, 2) + '\n', { flag: argv.force ? 'w' : 'wx' });
  } catch (err) {
    const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
    throw new CommandError(exists ? `${out} exists; pass --force to overwrite it` : `cannot write ${out}: ${(err as Error).message}`, EXIT_USAGE);
  }
  if (argv.json) printJson(context.stdout, { written: out, ...result });
  else context.stdout.write(formatImportReport(result, out));
  return result.needsReview ? EXIT_ATTENTION : EXIT_OK;
}
