// The command line as a function: `runCli(args, io)` parses the arguments, runs the command in the world `io`
// describes (environment, working folder, standard input and output) and resolves with the exit code. main.ts runs
// it with the process's own; tests run it in their process. `serve` is the exception once its config is valid: the
// relay then owns the process (stop signals, process.exit), see serve-command.ts.
//
// Each command's modules are imported when that command runs (see SUBCOMMANDS): `status`, `queue` or `--version`
// need not load the relay, nodemailer, winston and node-windows, which was most of a CLI start's CPU time.
import type { Argv, CommandModule } from 'yargs';
import { CommandError, EXIT_USAGE, runCommand, type CliIo, type CommandContext } from './command-output.js';
import { configOptions, plainServeOptions } from './serve-args.js';
import { versionText } from './version.js';

/** Any other failure (a bug, an unexpected I/O error): exit 1 with the stack. */
const EXIT_RUNTIME = 1;

type Registration = (y: Argv) => Argv;

/** Registers a command whose module is imported only when it is needed. */
function registers<U>(load: () => Promise<(context: CommandContext) => CommandModule<object, U>>): (context: CommandContext) => Promise<Registration> {
  return async (context) => {
    const command = (await load())(context);
    return (y) => y.command(command);
  };
}

/** The other commands by name, each registered from its own module, which is imported only when needed. */
const SUBCOMMANDS: Record<string, (context: CommandContext) => Promise<Registration>> = {
  'import-iis': registers(async () => (await import('./import-iis-command.js')).importIisCommand),
  'check-config': registers(async () => (await import('./check-config-command.js')).checkConfigCommand),
  init: registers(async () => (await import('./init-command.js')).initCommand),
  queue: registers(async () => (await import('./queue-command.js')).queueCommand),
  status: registers(async () => (await import('./status-command.js')).statusCommand),
  // `service` has subcommands of its own and registers itself.
  service: async (context) => (await import('./service-command.js')).serviceCommand(context),
};

/**
 * The subcommands to register for these arguments: the named one; none to serve or print the version; all of them
 * for help, or whenever the first word is not plainly a command or an option (yargs then decides, as before).
 */
function subcommandsFor(args: string[]): string[] {
  const all = Object.keys(SUBCOMMANDS);
  if (args.some((arg) => arg === '--help' || arg === '-h' || arg === 'help')) return all;
  const first = args[0];
  if (first !== undefined && Object.hasOwn(SUBCOMMANDS, first)) return [first];
  if (args.includes('--version')) return [];
  if (first === undefined || first === 'serve' || first.startsWith('-')) {
    // `serve` (or the default command) with options only: a later bare word may be an option's value, or a command
    // after `--config file`, so look for a command name anywhere before deciding that none is needed.
    const named = args.filter((arg) => Object.hasOwn(SUBCOMMANDS, arg));
    return first === 'serve' || named.length === 0 ? [] : all;
  }
  return all;
}

/** Runs the command line `mailroot ...args` in the world `io` describes; resolves with its exit code. */
export async function runCli(given: string[], io: CliIo): Promise<number> {
  // stdin read only if a command asks for it: creating process.stdin opens a handle on it.
  const context: CommandContext = { env: io.env, cwd: io.cwd, stdout: io.stdout, stderr: io.stderr, get stdin() { return io.stdin; }, exitCode: 0 };
  try {
    // `serve` is also the default command, and run as the default: yargs lays out the whole help text (about 0.15 s
    // of CPU with every config key as a flag) when a command is named, in case the handler asks for it.
    const args = given[0] === 'serve' && !given.some((arg) => arg === '--help' || arg === '-h') ? given.slice(1) : given;
    const subcommands = subcommandsFor(args);
    if (subcommands.length === 0) {
      const options = plainServeOptions(args);
      if (options !== undefined) {
        const { serve } = await import('./serve-command.js');
        await runCommand(context, () => serve(context, options));
        return context.exitCode;
      }
    }
    const { default: yargs } = await import('yargs');
    const registrations = await Promise.all(subcommands.map((name) => SUBCOMMANDS[name]!(context)));
    let cli: Argv = yargs([], io.cwd)
      .scriptName('mailroot')
      .usage('$0 [serve] [options]\n\nStore-and-forward SMTP relay with an IIS-compatible mailroot.')
      .option('config', { type: 'string', describe: 'JSON config file (default: mailroot.json in the working folder, if present)' })
      .command(['serve', '$0'], 'Run the relay (the default command)', (y) => y.options(configOptions()), async (argv) => {
        const { serve } = await import('./serve-command.js');
        await runCommand(context, () => serve(context, argv));
      })
      .command(
        'hash-password',
        'Print a password hash for authUsers; the password is read from the terminal (not echoed) or standard input',
        (y) => y.option('user', { type: 'string', describe: 'Print a whole authUsers entry, "name:hash"' }),
        async (argv) => {
          const { hashPasswordCommand } = await import('./hash-password-command.js');
          await runCommand(context, () => hashPasswordCommand(context, argv));
        },
      );
    for (const register of registrations) cli = register(cli);
    let output = '';
    await cli
      .strictOptions()
      .exitProcess(false)
      .fail((message, err) => {
        if (err) throw err;
        throw new CommandError(`${message} (see mailroot --help)`, EXIT_USAGE);
      })
      .help()
      .version('version', "Show mailroot's and Node.js's versions", versionText())
      // With a callback, yargs hands over what it would print (help, the version) instead of printing it.
      .parseAsync(args, {}, (_err, _argv, text) => {
        output = text;
      });
    if (output !== '') io.stdout.write(`${output}\n`);
    return context.exitCode;
  } catch (err) {
    if (err instanceof CommandError) {
      io.stderr.write(`mailroot: ${err.message}\n`);
      return err.code;
    }
    io.stderr.write(`mailroot: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_RUNTIME;
  }
}
