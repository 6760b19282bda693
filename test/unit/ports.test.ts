// unusedPort (test/helpers/ports.ts): a port for a server that listens later must not be one the kernel hands
// out by itself (an outgoing connection or a port-0 listener could take it first), nor one another test process
// was given.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { candidateRanges, RESERVATIONS, unusedPort, unusedPortIn, type PortRange } from '../helpers/ports.js';

const PORTS_MODULE = new URL('../helpers/ports.js', import.meta.url).href;

/** The kernel's own range, read here rather than through the helper. */
function kernelEphemeralRanges(): Array<[number, number]> {
  const linux = (file: string): [number, number] | undefined => {
    if (!fs.existsSync(file)) return undefined;
    const [low, high] = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    return [low!, high!];
  };
  if (process.platform === 'linux') return [linux('/proc/sys/net/ipv4/ip_local_port_range') ?? [32768, 60999]];
  // Windows' dynamic range; under Wine the Linux kernel's range too.
  const wine = process.platform === 'win32' ? linux('Z:\\proc\\sys\\net\\ipv4\\ip_local_port_range') : undefined;
  return wine ? [[49152, 65535], wine] : [[49152, 65535]];
}

function listenOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** Another test process: takes up to `count` ports (from `block`), prints them as JSON, and exits when its stdin closes. */
function otherProcess(count: number, block?: PortRange): Promise<{ ports: number[]; pid: number; exit: () => Promise<void> }> {
  const take = block ? `unusedPortIn([${JSON.stringify(block)}])` : 'unusedPort()';
  const code = `const { unusedPort, unusedPortIn } = await import(${JSON.stringify(PORTS_MODULE)});
const ports = [];
try {
  for (let i = 0; i < ${count}; i++) ports.push(await ${take});
} catch {}
process.stdout.write(JSON.stringify(ports) + '\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve({ ports: JSON.parse(out) as number[], pid: child.pid!, exit: () => (child.stdin.end(), exited) });
    });
    child.once('exit', (code) => reject(new Error(`the other process exited with ${code} before printing its ports`)));
  });
}

/**
 * A random block of `size` ports that unusedPort hands out. Random, so that other runs of this file on the machine
 * (other checkouts' suites) rarely share it; when they do, they only hold some of its ports.
 */
function randomBlock(size: number): PortRange {
  const ranges = candidateRanges().filter(([low, high]) => high - low + 1 >= size);
  const [low, high] = ranges[Math.floor(Math.random() * ranges.length)]!;
  const start = low + Math.floor(Math.random() * (high - low + 2 - size));
  return [start, start + size - 1];
}

/** Every port this process can still get from `block`: unusedPortIn throws once none is left (one more than the block holds: a repeat). */
async function drain(block: PortRange): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length <= block[1] - block[0] + 1) {
    try {
      ports.push(await unusedPortIn([block]));
    } catch {
      break;
    }
  }
  return ports;
}

const within = ([low, high]: PortRange) => (port: number) => port >= low && port <= high;

describe('unusedPort', () => {
  it('hands out loopback ports outside the kernel\'s ephemeral range that are free to listen on', async () => {
    const ephemeral = kernelEphemeralRanges();
    for (let i = 0; i < 10; i++) {
      const port = await unusedPort();
      assert.ok(port >= 1024 && port <= 65535, `${port} is a valid unprivileged port`);
      for (const [low, high] of ephemeral) assert.ok(port < low || port > high, `${port} is outside the ephemeral range ${low}-${high}`);
      await listenOnce(port);
    }
  });

  it('never hands out the same port twice in one process', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await unusedPort());
    assert.equal(new Set(ports).size, ports.length);
    // From a block of 10, at most 10 ports and then an error, not a port again.
    const block = randomBlock(10);
    const fromBlock = await drain(block);
    assert.ok(fromBlock.length > 0 && fromBlock.length <= 10 && fromBlock.every(within(block)), JSON.stringify(fromBlock));
    assert.equal(new Set(fromBlock).size, fromBlock.length);
  });

  it('does not hand out a port another live process holds, and that process\'s reservations go when it exits', async () => {
    // The other process takes half of a block of 20 and keeps them; this one then takes what it can of the block.
    const block = randomBlock(20);
    const other = await otherProcess(10, block);
    let exited = false;
    try {
      assert.ok(other.ports.length > 0 && other.ports.every(within(block)), JSON.stringify(other.ports));
      for (const port of other.ports) assert.equal(fs.readFileSync(path.join(RESERVATIONS, String(port)), 'utf8'), String(other.pid));
      const mine = await drain(block);
      assert.ok(mine.length > 0, 'this process got the rest of the block');
      assert.deepEqual(other.ports.filter((port) => mine.includes(port)), [], 'no port of the other process is handed out here');
      await other.exit();
      exited = true;
      assert.deepEqual(other.ports.filter((port) => fs.existsSync(path.join(RESERVATIONS, String(port)))), [], 'its reservations are removed at its exit');
    } finally {
      if (!exited) await other.exit();
    }
  });

  it('removes old reservations of processes that are gone, and keeps those of live processes', async () => {
    const gone = await otherProcess(1);
    await gone.exit();
    const [low] = randomBlock(50);
    const free = [...Array(50).keys()].map((i) => low + i).filter((port) => !fs.existsSync(path.join(RESERVATIONS, String(port))));
    const [stale, live] = [path.join(RESERVATIONS, String(free[0])), path.join(RESERVATIONS, String(free[1]))];
    const longAgo = new Date(Date.now() - 10 * 60_000);
    try {
      fs.writeFileSync(stale, String(gone.pid), { flag: 'wx' });
      fs.writeFileSync(live, String(process.pid), { flag: 'wx' });
      fs.utimesSync(stale, longAgo, longAgo);
      fs.utimesSync(live, longAgo, longAgo);
      await (await otherProcess(1)).exit(); // a new process sweeps when it first asks for a port
      assert.equal(fs.existsSync(stale), false, 'the reservation of a process that is gone is removed');
      assert.equal(fs.existsSync(live), true, 'the reservation of a live process stays');
    } finally {
      fs.rmSync(stale, { force: true });
      fs.rmSync(live, { force: true });
    }
  });
});
