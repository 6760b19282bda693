// `mailroot hash-password`: prints an authUsers hash (or a whole "name:hash" entry with --user) for a password
// read from the terminal (not echoed) or from standard input.
import { CommandError, EXIT_ATTENTION, EXIT_OK, type CommandContext } from './command-output.js';

/** Reads a line from the terminal without echoing it. */
function promptHidden(context: CommandContext, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = context.stdin;
    context.stderr.write(prompt);
    stdin.setRawMode?.(true);
    stdin.resume();
    let text = '';
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          finish();
          return resolve(text);
        }
        if (char === '\u0003') {
          finish();
          return reject(new CommandError('cancelled', EXIT_ATTENTION));
        }
        if (char === '\u007f' || char === '\b') text = text.slice(0, -1);
        else text += char;
      }
    };
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      context.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

async function readPassword(context: CommandContext): Promise<string> {
  if (context.stdin.isTTY) {
    const first = await promptHidden(context, 'Password: ');
    const second = await promptHidden(context, 'Again: ');
    if (first !== second) throw new CommandError('the two passwords differ', EXIT_ATTENTION);
    return first;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of context.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function hashPasswordCommand(context: CommandContext, argv: { user?: string | undefined }): Promise<number> {
  const password = await readPassword(context);
  if (password === '') throw new CommandError('empty password', EXIT_ATTENTION);
  const { hashPassword } = await import('../smtp/auth.js');
  const hash = await hashPassword(password);
  context.stdout.write(`${argv.user ? `${argv.user}:` : ''}${hash}\n`);
  return EXIT_OK;
}
