// Loopback ports for tests and the benchmark, for a server that will listen later: a relay's --listen, a smart
// host that is down now and comes up later in the test.
//
// Such a port must not come from the kernel's ephemeral range. A port the kernel chose (listen on port 0, then
// close) goes back to that range, and any test's next outgoing connection or port-0 listener may take it before
// the test listens on it: EADDRINUSE, a flake that grows with the number of tests running at once. So a port here
// is one the kernel never hands out by itself, checked free by listening on it, never given twice by one process,
// and reserved against the other test processes (npm test runs several) by a file in os.tmpdir() created with
// 'wx' and removed when the process exits.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { processIsAlive } from '../../src/ops/status-file.js';

/** Inclusive port range. */
export type PortRange = readonly [low: number, high: number];

/** Below this, ports are left to the services that conventionally use them (3306, 5432, 8080, ...). */
const LOWEST = 10_000;
const HIGHEST = 65_535;
/** Linux's default ip_local_port_range, when /proc cannot be read. */
const LINUX_EPHEMERAL: PortRange = [32_768, 60_999];
/** IANA's dynamic range: Windows since Vista and macOS use it. */
const IANA_EPHEMERAL: PortRange = [49_152, 65_535];
/** A reservation older than this whose process is gone is removed (younger ones: see sweepStale). */
const STALE_AFTER_MS = 60_000;
const ATTEMPTS = 500;
/** Fewer ports than this outside the ephemeral range above LOWEST, and the ports below it are used too. */
const MIN_CANDIDATES = 2000;

function linuxRange(file: string): PortRange | undefined {
  try {
    const [low, high] = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    return low !== undefined && high !== undefined && low > 0 && high >= low ? [low, high] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The ranges the kernel picks ports from by itself. Windows' node.exe under Wine binds through the Linux kernel,
 * so there the Linux range (read through Wine's Z: drive) counts as well as Windows' own.
 */
export function ephemeralRanges(): PortRange[] {
  if (process.platform === 'linux') return [linuxRange('/proc/sys/net/ipv4/ip_local_port_range') ?? LINUX_EPHEMERAL];
  if (process.platform === 'win32') {
    const wine = linuxRange('Z:\\proc\\sys\\net\\ipv4\\ip_local_port_range');
    return wine ? [IANA_EPHEMERAL, wine] : [IANA_EPHEMERAL];
  }
  return [IANA_EPHEMERAL];
}

/** The ports in `ranges`. */
function sizeOf(ranges: PortRange[]): number {
  return ranges.reduce((sum, [low, high]) => sum + high - low + 1, 0);
}

function without(from: PortRange, ephemeral: PortRange[]): PortRange[] {
  let ranges: PortRange[] = [from];
  for (const [low, high] of ephemeral) {
    ranges = ranges.flatMap(([a, b]): PortRange[] =>
      high < a || low > b ? [[a, b]] : ([[a, low - 1], [high + 1, b]] as PortRange[]).filter(([x, y]) => x <= y),
    );
  }
  return ranges;
}

/** The ports handed out: LOWEST..HIGHEST without the ephemeral ranges (from 1024 if the ephemeral range is very wide). */
export function candidateRanges(ephemeral: PortRange[] = ephemeralRanges()): PortRange[] {
  const ranges = without([LOWEST, HIGHEST], ephemeral);
  return sizeOf(ranges) >= MIN_CANDIDATES ? ranges : without([1024, HIGHEST], ephemeral);
}

/** Where the reservations of all test processes on this machine live: one file per port, holding its pid. */
export const RESERVATIONS = path.join(os.tmpdir(), 'mailroot-test-ports');

/** Ports this process has handed out or found in use; none is tried again. */
const seen = new Set<number>();
/** Reservation files this process made, removed at exit. */
const reserved = new Set<string>();
/** candidateRanges(), read once. */
let candidates: PortRange[] | undefined;
let prepared = false;

/**
 * Removes reservations left by processes that ended without their exit handler (kill -9, a runner's timeout).
 * Only old ones: a file seen stale could otherwise be replaced by a live process's new reservation between the
 * read and the unlink, and that one would be removed instead.
 */
function sweepStale(): void {
  for (const name of fs.readdirSync(RESERVATIONS)) {
    const file = path.join(RESERVATIONS, name);
    try {
      const pid = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && processIsAlive(pid)) continue;
      if (Date.now() - fs.statSync(file).mtimeMs > STALE_AFTER_MS) fs.unlinkSync(file);
    } catch {
      // removed meanwhile, or not ours to remove
    }
  }
}

function prepare(): void {
  if (prepared) return;
  prepared = true;
  try {
    fs.mkdirSync(RESERVATIONS, { recursive: true });
    sweepStale();
  } catch {
    // no shared folder (read-only temp): ports are still checked free and unique in this process
  }
  process.on('exit', () => {
    for (const file of reserved) fs.rmSync(file, { force: true });
  });
}

/** Claims `port` against other processes; false when another process holds it. */
function reserve(port: number): boolean {
  const file = path.join(RESERVATIONS, String(port));
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    reserved.add(file);
    return true;
  } catch (err) {
    // EEXIST: another process's. Anything else (no shared folder): this process's own checks still hold.
    return (err as NodeJS.ErrnoException).code !== 'EEXIST';
  }
}

function release(port: number): void {
  const file = path.join(RESERVATIONS, String(port));
  if (reserved.delete(file)) fs.rmSync(file, { force: true });
}

function listensOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function randomCandidate(ranges: PortRange[]): number {
  let index = Math.floor(Math.random() * sizeOf(ranges));
  for (const [low, high] of ranges) {
    if (index <= high - low) return low + index;
    index -= high - low + 1;
  }
  throw new Error('unreachable');
}

/**
 * A loopback port with nothing listening on it, outside the kernel's ephemeral range, reserved for this process
 * until it exits: no other test process is handed it, and no connection takes it meanwhile.
 */
export async function unusedPort(): Promise<number> {
  const ranges = (candidates ??= candidateRanges());
  if (sizeOf(ranges) === 0) throw new Error(`every loopback port from 1024 up is in the ephemeral range ${JSON.stringify(ephemeralRanges())}`);
  return unusedPortIn(ranges);
}

/** unusedPort from `ranges` only (its own tests use a narrow range). */
export async function unusedPortIn(ranges: PortRange[]): Promise<number> {
  prepare();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = randomCandidate(ranges);
    if (seen.has(port)) continue;
    seen.add(port);
    if (!reserve(port)) continue;
    if (await listensOn(port)) return port;
    release(port);
  }
  throw new Error(`no free loopback port in ${JSON.stringify(ranges)} after ${ATTEMPTS} tries`);
}
