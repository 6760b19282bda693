// `mailroot serve`: runs the relay until a stop request. Once the relay runs, it owns the process: it listens for
// the stop signals and messages, and ends the process when it has stopped (or its stop hung). Before that, a bad
// config is a command error like any other (exit 2, the key named).
import type { Config, ConfigKey } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, KEY_NAMES } from '../config/schema.js';
import type { Relay } from '../relay.js';
import { CommandError, EXIT_USAGE, type CommandContext } from './command-output.js';

/** Exit codes: 0 clean stop, 1 runtime failure (cannot listen, mailroot in use), 2 bad configuration. */
const EXIT_RUNTIME = 1;
/** Deliveries in flight get this long to finish on a stop (else they stay queued); WinSW waits longer. */
const STOP_GRACE_MS = 10_000;
const STOP_BACKSTOP_EXTRA_MS = 5_000;

/** The config serve would run with, from the file, the environment and these flags; a CommandError if it is bad. */
function serveConfig(context: CommandContext, argv: Record<string, unknown>): Readonly<Config> {
  const flags: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of KEY_NAMES) if (argv[key] !== undefined) flags[key] = argv[key];
  try {
    return loadConfig({ configFile: argv.config as string | undefined, flags, env: context.env, cwd: context.cwd });
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandError(err.message, EXIT_USAGE);
    throw err;
  }
}

/** Checks the config, then starts the relay and hands the process over to it. */
export async function serve(context: CommandContext, argv: Record<string, unknown>): Promise<number> {
  const config = serveConfig(context, argv);
  const [{ createLogger }, { Relay: RelayClass }, { MailrootLockedError }, { onStopRequest }] = await Promise.all([
    import('../log/logger.js'),
    import('../relay.js'),
    import('../spool/lock.js'),
    import('./stop-requests.js'),
  ]);
  const log = createLogger({ level: config.logLevel, file: config.logFile, retentionDays: Math.max(1, Math.ceil(config.logRetention / 86_400_000)) });
  const eventLogWritten = config.eventLog ? (await import('../log/event-log-transport.js')).attachEventLog(log) : () => Promise.resolve();
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
  return 0; // the relay runs on; the process exits when it has stopped
}
