#!/usr/bin/env node
// Command line: `mailroot serve` (the default command; every config key is also a flag, see --help) and
// `mailroot hash-password` (a password hash for authUsers).
//
// Each command's modules are imported when that command runs (see SUBCOMMANDS): `status`, `queue` or `--version`
// need not load the relay, nodemailer, winston and node-windows, which was most of a CLI start's CPU time.
import { writeSync } from 'node:fs';
import yargs, { type Argv, type CommandModule, type Options } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from '../config/load.js';
import { ConfigError, KEY_NAMES, envName, flagName, keySpec, type ConfigKey } from '../config/schema.js';
import type { Relay } from '../relay.js';
import { versionText } from './version.js';

/** Exit codes: 0 clean stop, 1 runtime failure (cannot listen, mailroot in use), 2 bad configuration. */
const EXIT_RUNTIME = 1;
const EXIT_CONFIG = 2;
/** Deliveries in flight get this long to finish on a stop (else they stay queued); WinSW waits longer. */
const STOP_GRACE_MS = 10_000;
const STOP_BACKSTOP_EXTRA_MS = 5_000;

function fail(code: number, message: string): never {
  // Written synchronously: process.exit() right after an asynchronous write lost the message under Windows' node.exe.
  writeSync(2, `mailroot: ${message}\n`);
  process.exit(code);
}

async function serve(argv: Record<string, unknown>): Promise<void> {
  const flags: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of KEY_NAMES) if (argv[key] !== undefined) flags[key] = argv[key];
  let config;
  try {
    config = loadConfig({ configFile: argv.config as string | undefined, flags });
  } catch (err) {
    if (err instanceof ConfigError) fail(EXIT_CONFIG, err.message);
    throw err;
  }
  const [{ createLogger }, { attachEventLog }, { Relay: RelayClass }, { MailrootLockedError }, { onStopRequest }] = await Promise.all([
    import('../log/logger.js'),
    import('../log/event-log-transport.js'),
    import('../relay.js'),
    import('../spool/lock.js'),
    import('./stop-requests.js'),
  ]);
  const log = createLogger({ level: config.logLevel, file: config.logFile, retentionDays: Math.max(1, Math.ceil(config.logRetention / 86_400_000)) });
  const eventLogWritten = config.eventLog ? attachEventLog(log) : () => Promise.resolve();
  let relay: Relay;
  try {
    relay = await RelayClass.start(config, log);
  } catch (err) {
    const message = err instanceof MailrootLockedError ? err.message : `cannot start: ${(err as Error).message}`;
    log.error(message);
    await new Promise((resolve) => setTimeout(resolve, 50)); // let winston flush
    process.exit(EXIT_RUNTIME);
  }
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { reason });
    // relay.stop() is bounded by its grace; this is the backstop if a part hangs anyway.
    setTimeout(() => {
      log.error('stop did not finish in time, exiting', { seconds: STOP_GRACE_MS / 1000 + STOP_BACKSTOP_EXTRA_MS / 1000 });
      process.exit(EXIT_RUNTIME);
    }, STOP_GRACE_MS + STOP_BACKSTOP_EXTRA_MS).unref();
    relay.stop(STOP_GRACE_MS).then(
      () => eventLogWritten().then(() => process.exit(0)),
      (err: unknown) => {
        log.error('error while stopping', { error: (err as Error).message });
        process.exit(EXIT_RUNTIME);
      },
    );
  };
  onStopRequest(stop);
  process.on('uncaughtException', (err) => log.error('unexpected error, still running', { error: err.stack ?? String(err) }));
  process.on('unhandledRejection', (err) => log.error('unexpected rejection, still running', { error: String(err) }));
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let text = '';
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          finish();
          return resolve(text);
        }
        if (char === '\u0003') {
          finish();
          return reject(new Error('cancelled'));
        }
        if (char === '\u007f' || char === '\b') text = text.slice(0, -1);
        else text += char;
      }
    };
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden('Password: ');
    const second = await promptHidden('Again: ');
    if (first !== second) fail(EXIT_RUNTIME, 'the two passwords differ');
    return first;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Prints an authUsers hash (or a whole "name:hash" entry with --user) for a password read from stdin. */
async function hashPasswordCommand(argv: Record<string, unknown>): Promise<void> {
  const password = await readPassword();
  if (password === '') fail(EXIT_RUNTIME, 'empty password');
  const { hashPassword } = await import('../smtp/auth.js');
  const hash = await hashPassword(password);
  const user = argv.user as string | undefined;
  process.stdout.write(`${user ? `${user}:` : ''}${hash}\n`);
}

function configOptions(): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const key of KEY_NAMES) {
    const spec = keySpec(key);
    options[flagName(key)] = {
      type: 'string',
      array: spec.list === true,
      describe: `${spec.description}. Default ${spec.defaultText}. Env ${envName(key)}`,
    };
  }
  return options;
}

/** Registers a command whose module is imported only when it is needed. */
function registers<U>(load: () => Promise<CommandModule<object, U>>): () => Promise<(y: Argv) => Argv> {
  return async () => {
    const command = await load();
    return (y) => y.command(command);
  };
}

/** The other commands by name, each registered from its own module, which is imported only when needed. */
const SUBCOMMANDS: Record<string, () => Promise<(y: Argv) => Argv>> = {
  'import-iis': registers(async () => (await import('./import-iis-command.js')).importIisCommand),
  'check-config': registers(async () => (await import('./check-config-command.js')).checkConfigCommand),
  init: registers(async () => (await import('./init-command.js')).initCommand),
  queue: registers(async () => (await import('./queue-command.js')).queueCommand),
  status: registers(async () => (await import('./status-command.js')).statusCommand),
  // `service` has subcommands of its own and registers itself.
  service: async () => (await import('./service-command.js')).serviceCommand,
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

async function main(): Promise<void> {
  const given = hideBin(process.argv);
  // `serve` is also the default command, and run as the default: yargs lays out the whole help text (about 0.15 s
  // of CPU with every config key as a flag) when a command is named, in case the handler asks for it.
  const args = given[0] === 'serve' && !given.some((arg) => arg === '--help' || arg === '-h') ? given.slice(1) : given;
  const registrations = await Promise.all(subcommandsFor(args).map((name) => SUBCOMMANDS[name]!()));
  let cli: Argv = yargs(args)
    .scriptName('mailroot')
    .usage('$0 [serve] [options]\n\nStore-and-forward SMTP relay with an IIS-compatible mailroot.')
    .option('config', { type: 'string', describe: 'JSON config file (default: mailroot.json in the working folder, if present)' })
    .command(['serve', '$0'], 'Run the relay (the default command)', (y) => y.options(configOptions()), (argv) => serve(argv))
    .command(
      'hash-password',
      'Print a password hash for authUsers; the password is read from the terminal (not echoed) or standard input',
      (y) => y.option('user', { type: 'string', describe: 'Print a whole authUsers entry, "name:hash"' }),
      (argv) => hashPasswordCommand(argv),
    );
  for (const register of registrations) cli = register(cli);
  await cli
    .strictOptions()
    .fail((message, err) => {
      if (err) throw err;
      fail(EXIT_CONFIG, `${message} (see mailroot --help)`);
    })
    .help()
    .version('version', "Show mailroot's and Node.js's versions", versionText())
    .parseAsync();
}

// No top-level await: the release bundle (scripts/release.ts) is CommonJS, which has none.
main().catch((err: unknown) => fail(EXIT_RUNTIME, (err as Error).stack ?? String(err)));
