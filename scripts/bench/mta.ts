// The server a scenario measures: mailroot (a fresh relay process per run) or the peer (the one Postfix of the
// bench run, pointed at this run's upstream). Both are watched for their process tree's peak PSS.
import { spawnRelay } from './common.js';
import { PeakPss, treeCpuSeconds } from './memory.js';
import type { BenchRelay } from './relay-process.js';
import type { BenchContext } from './types.js';

export type MtaName = 'mailroot' | 'postfix';

export interface MtaRun {
  name: MtaName;
  port: number;
  /** The relay process when this is mailroot (its CPU and RSS figures). */
  relay?: BenchRelay;
  /** The upstream came back: mailroot's probe finds out by itself; Postfix is told to flush its queue. */
  upstreamBack(): Promise<void>;
  /** CPU seconds the MTA's process tree has used so far. */
  cpuSeconds(): number | undefined;
  /** Stops (mailroot) or empties (Postfix) and returns the process tree's peak PSS in kB. */
  stop(graceMs?: number): Promise<number | undefined>;
}

/** The MTAs this run measures: mailroot, and the peer when --peer was given and it could start. */
export function mtasOf(ctx: BenchContext): MtaName[] {
  return ctx.peer ? ['mailroot', 'postfix'] : ['mailroot'];
}

export async function startMta(ctx: BenchContext, name: MtaName, mailroot: string, smartHost: string): Promise<MtaRun> {
  if (name === 'mailroot') {
    const relay = await spawnRelay(ctx, mailroot, smartHost);
    await relay.waitForGreeting();
    const pss = new PeakPss(() => relay.pid || undefined);
    let peak: number | undefined;
    return {
      name,
      port: relay.port,
      relay,
      upstreamBack: async () => undefined,
      cpuSeconds: () => treeCpuSeconds(relay.pid),
      stop: async (graceMs) => {
        peak ??= pss.stop();
        await relay.stop(graceMs);
        return peak;
      },
    };
  }
  const peer = ctx.peer;
  if (!peer) throw new Error('no peer in this run');
  await peer.relayTo(Number(smartHost.slice(smartHost.lastIndexOf(':') + 1)));
  const master = peer.masterPid;
  const pss = new PeakPss(() => master);
  let stopped: Promise<number | undefined> | undefined;
  return {
    name,
    port: peer.port,
    upstreamBack: () => peer.flush(),
    cpuSeconds: () => (master === undefined ? undefined : treeCpuSeconds(master)),
    stop: () =>
      (stopped ??= (async () => {
        const peak = pss.stop();
        await peer.clear();
        return peak;
      })()),
  };
}
