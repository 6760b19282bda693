// What the operator commands (import-iis, check-config, init, queue, status) share: exit codes and output.
/** Exit codes of the operator commands; `status` uses the Nagios convention instead (0 ok, 1 warning, 2 critical). */
export const EXIT_OK = 0;
export const EXIT_ATTENTION = 1;
export const EXIT_USAGE = 2;

/** Thrown by a command for an error the operator must see; main prints it and exits with `code`. */
export class CommandError extends Error {
  override name = 'CommandError';
  readonly code: number;

  constructor(message: string, code = EXIT_ATTENTION) {
    super(message);
    this.code = code;
  }
}

/** Runs a command handler: its return value is the exit code; a CommandError prints "mailroot: ..." first. */
export async function runCommand(handler: () => Promise<number> | number): Promise<void> {
  try {
    process.exitCode = await handler();
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    process.stderr.write(`mailroot: ${err.message}\n`);
    process.exitCode = err.code;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
