// What a service runs: this same program with `serve --config FILE`, from the config file's folder, so the
// service sees exactly the configuration that `mailroot serve --config FILE` sees on the console.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVICE_NAME = 'mailroot';
export const SERVICE_DISPLAY_NAME = 'mailroot SMTP relay';
export const SERVICE_DESCRIPTION =
  'Store-and-forward SMTP relay with an IIS-compatible mailroot (Pickup, Queue, Badmail, Drop, SortTemp)';

export interface ServiceSpec {
  /** The program to start (node or node.exe, or the single executable). */
  executable: string;
  /** Its arguments, unquoted. */
  arguments: string[];
  workingDirectory: string;
  /** The folders the relay writes to (the mailroot, the log file's folder). */
  writablePaths: string[];
  /** A named account ("DOMAIN\user" on Windows, a user name on Linux); undefined: LocalSystem or root. */
  account?: string | undefined;
}

/**
 * The V8 flags the relay runs with (`npm start`, the service, the benchmark; see the README's Performance
 * section): a 4 MB young generation instead of 16 MB, and an old generation that grows by 20 % at a time instead
 * of V8's default factor (up to 4x under a high allocation rate), which let a burst of 20 000 messages leave
 * 140-156 MB of mostly garbage heap behind. Neither caps the heap: a big queue still gets the memory it needs.
 */
export const RELAY_NODE_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=20'];

/**
 * The CLI's own entry point, with RELAY_NODE_FLAGS, or none when running as a single executable (the
 * executable is the program).
 */
export function currentProgram(): { executable: string; leading: string[] } {
  const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
  const script = process.argv[1];
  const isSingleExecutable = script === undefined || path.resolve(script) === process.execPath;
  return { executable: process.execPath, leading: isSingleExecutable ? [] : [...RELAY_NODE_FLAGS, main] };
}

export function serviceSpec(options: {
  configFile: string;
  mailroot: string;
  logFile?: string | undefined;
  account?: string | undefined;
  program?: { executable: string; leading: string[] };
}): ServiceSpec {
  const program = options.program ?? currentProgram();
  const configFile = path.resolve(options.configFile);
  return {
    executable: program.executable,
    arguments: [...program.leading, 'serve', '--config', configFile],
    workingDirectory: path.dirname(configFile),
    writablePaths: [options.mailroot, ...(options.logFile ? [path.dirname(options.logFile)] : [])],
    account: options.account,
  };
}
