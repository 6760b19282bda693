#!/usr/bin/env node
// `mailroot`: the command line (cli.ts) run with this process's arguments, environment, working folder and
// standard streams; its result becomes the exit code. See cli.ts for the commands.
import { writeSync } from 'node:fs';
import { runCli } from './cli.js';

// No top-level await: the release bundle (scripts/release.ts) is CommonJS, which has none.
const io = {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  // Only if a command reads it: creating process.stdin opens a handle on it.
  get stdin() {
    return process.stdin;
  },
};
runCli(process.argv.slice(2), io).then(
  (code) => {
    // Not process.exit(): that could cut off output still on its way to a pipe (Windows' node.exe).
    process.exitCode = code;
  },
  (err: unknown) => {
    writeSync(2, `mailroot: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
