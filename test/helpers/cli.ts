// Runs the command line and collects what it printed: in this process (runCliHere, for what a command does) or as
// the real `mailroot` process (runCli, for what is about the process: exit codes as the shell sees them, output
// through a pipe, signals). Both take the same options and give the same result.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli as runCommandLine } from '../../src/cli/cli.js';

export const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Added to this process's environment, from which every MAILROOT_* variable is taken out first. */
  env?: Record<string, string>;
  /** What standard input holds (default: nothing). */
  input?: string;
  /** A hang guard for the real process. */
  timeout?: number;
  /** Called with all of standard error so far, each time more comes. */
  onStderr?: (text: string) => void;
}

function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILROOT_')));
  return { ...env, ...extra };
}

/** `mailroot ...args` run in this process, in its own environment, working folder and streams. */
export async function runCliHere(args: string[], options: Omit<CliOptions, 'timeout'> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCommandLine(args, {
    env: environment(options.env),
    cwd: options.cwd ?? process.cwd(),
    stdin: Readable.from(options.input === undefined ? [] : [Buffer.from(options.input)]),
    stdout: { write: (text: string) => (stdout += text) },
    stderr: {
      write: (text: string) => {
        stderr += text;
        options.onStderr?.(stderr);
      },
    },
  });
  return { code, stdout, stderr };
}

/** `mailroot ...args` run as its own process (dist/src/cli/main.js), its output through pipes. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd, env: environment(options.env), stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdin?.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}
