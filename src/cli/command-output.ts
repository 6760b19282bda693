// What the commands share: exit codes, and the world a command runs in (its arguments' environment, working
// folder, input and output), passed in so the same command runs in this process (tests) or as `mailroot`.
/** Exit codes of the operator commands; `status` uses the Nagios convention instead (0 ok, 1 warning, 2 critical). */
export const EXIT_OK = 0;
export const EXIT_ATTENTION = 1;
export const EXIT_USAGE = 2;

/** Where a command writes text. */
export interface TextSink {
  write(text: string): unknown;
}

/** Standard input as the commands read it: a stream, and for a terminal, raw mode (hash-password's prompt). */
export type CommandInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };

/** The world one run of the command line sees. main.ts passes the process's own; tests pass their own. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdin: CommandInput;
  stdout: TextSink;
  stderr: TextSink;
}

/** One run of the command line: its world, and the exit code its command set. */
export interface CommandContext extends CliIo {
  exitCode: number;
}

/** Thrown by a command for an error the operator must see; the run prints "mailroot: ..." and ends with `code`. */
export class CommandError extends Error {
  override name = 'CommandError';
  readonly code: number;

  constructor(message: string, code = EXIT_ATTENTION) {
    super(message);
    this.code = code;
  }
}

/** Runs a command handler: its return value is the exit code; a CommandError prints "mailroot: ..." first. */
export async function runCommand(context: CommandContext, handler: () => Promise<number> | number): Promise<void> {
  try {
    context.exitCode = await handler();
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    context.stderr.write(`mailroot: ${err.message}\n`);
    context.exitCode = err.code;
  }
}

export function printJson(out: TextSink, value: unknown): void {
  out.write(JSON.stringify(value, null, 2) + '\n');
}
