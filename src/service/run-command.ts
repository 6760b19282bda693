// Runs a service manager's command (systemctl, the WinSW wrapper) and returns what it printed. The one seam the
// tests replace: the service managers themselves cannot exist on a test machine.
import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number | null;
  output: string;
}

export type RunCommand = (program: string, args: string[], options?: { cwd?: string }) => Promise<CommandResult>;

export const runCommand: RunCommand = (program, args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn(program, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) => resolve({ code: null, output: `cannot run ${program}: ${err.message}` }));
    child.on('close', (code) => resolve({ code, output }));
  });
