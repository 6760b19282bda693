// Shapes shared by the bench runner and its scenarios.
import type { ClientKind } from './client.js';
import type { PeerName, PostfixPeer } from './peer.js';

export type Figure = number | string | boolean | null;

export interface Target {
  /** What is compared, e.g. "accept msg/s >= 0.7 x disk (20 writers)". */
  label: string;
  value: number | null;
  op: '>=' | '<=';
  threshold: number | null;
  unit: string;
  /** null when it cannot be judged (a scenario it depends on did not run). */
  pass: boolean | null;
}

export interface ScenarioResult {
  id: number;
  title: string;
  status: 'ok' | 'skipped' | 'error';
  reason?: string;
  /** What a reader of the figures should know, e.g. why a target was missed. */
  note?: string;
  seconds: number;
  params: Record<string, Figure>;
  figures: Record<string, Figure>;
  targets: Target[];
  /** The same scenario against the peer (--peer), figures under the same names. */
  peer?: { name: string; figures: Record<string, Figure> };
}

export interface BenchOptions {
  json: boolean;
  smoke: boolean;
  scale: number;
  only: Set<number>;
  client: ClientKind;
  /** Folder under which every mailroot of the run is made (its filesystem is what is measured). */
  dir: string;
  keep: boolean;
  size: number;
  sessions: number;
  messages: number;
  latencyMessages: number;
  warmup: number;
  backlog: number;
  startupFiles: number;
  startupDrainSeconds: number;
  pickupFiles: number;
  diskCycles: number;
  diskSeconds: number;
  relayLogLevel: string;
  relayArgs: string[];
  relayNodeArgs: string[];
  relayEnv: Record<string, string>;
  /** Measure this MTA too, in the same run (--peer postfix). */
  peer: PeerName | undefined;
}

export interface BenchContext {
  options: BenchOptions;
  /** Temporary folder for this run; each scenario makes its own mailroot under it. */
  runDir: string;
  progress(message: string): void;
  /** Results of scenarios run earlier in this run (scenario 7 runs first: the others' targets use it). */
  results: Map<number, ScenarioResult>;
  /** The running peer, when --peer was given and it started. */
  peer?: PostfixPeer | undefined;
}

export function target(label: string, value: number | null, op: '>=' | '<=', threshold: number | null, unit: string): Target {
  const pass = value === null || threshold === null ? null : op === '>=' ? value >= threshold : value <= threshold;
  return { label, value, op, threshold, unit, pass };
}

/** `value` against `factor` x the peer's `peerValue` (a ratio target); n/a without a peer figure. */
export function peerTarget(label: string, value: number | null, op: '>=' | '<=', factor: number, peerValue: Figure | undefined, unit: string): Target {
  const threshold = typeof peerValue === 'number' ? Math.round(factor * peerValue * 100) / 100 : null;
  return target(label, value, op, threshold, unit);
}
