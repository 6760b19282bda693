// The peer the bench compares mailroot with, in the same run: the system's Postfix, configured by
// scripts/postfix-peer.sh as a loopback relay to the bench's sink. Needs root and Linux (apt-get installs
// Postfix when it is missing); elsewhere `--peer postfix` is skipped with the reason.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onCleanup } from './cleanup.js';
import { unusedPort } from './util.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../../scripts/postfix-peer.sh', import.meta.url));

export type PeerName = 'postfix';

/** Why the peer cannot run here, or undefined when it can. */
export function peerUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the Postfix peer runs on Linux only';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the Postfix peer needs root (it configures and starts the system Postfix)';
  if (!fs.existsSync(SCRIPT)) return `${SCRIPT} is missing`;
  return undefined;
}

export class PostfixPeer {
  readonly name = 'postfix';
  readonly port: number;
  /** The master process (a reload keeps it). */
  readonly masterPid: number | undefined;
  #stopped = false;
  readonly #untrack: () => void;

  private constructor(port: number, masterPid: number | undefined) {
    this.port = port;
    this.masterPid = masterPid;
    this.#untrack = onCleanup(() => this.stop());
  }

  static async #script(args: string[], timeoutMs = 300_000): Promise<string> {
    try {
      const { stdout } = await run('bash', [SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 });
      return stdout.trim();
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`postfix-peer.sh ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
    }
  }

  /** Installs (if missing), configures and starts Postfix on a free loopback port, relaying to `sinkPort`. */
  static async start(sinkPort: number): Promise<PostfixPeer> {
    const port = await unusedPort();
    const pid = Number(await PostfixPeer.#script(['start', String(port), String(sinkPort)]));
    return new PostfixPeer(port, pid > 0 ? pid : undefined);
  }

  /** Empties the queue and relays to another loopback port from now on (the script waits out the reload). */
  async relayTo(sinkPort: number): Promise<void> {
    await PostfixPeer.#script(['relay', String(sinkPort)]);
  }

  /** The upstream is back: try the deferred messages now (mailroot finds out by itself with its probe). */
  async flush(): Promise<void> {
    await PostfixPeer.#script(['flush']);
  }

  async clear(): Promise<void> {
    await PostfixPeer.#script(['clear']);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#untrack();
    await PostfixPeer.#script(['stop']);
  }
}
