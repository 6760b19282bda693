// unusedPort (test/helpers/ports.ts): a port for a server that listens later must not be one the kernel hands
// out by itself (an outgoing connection or a port-0 listener could take it first), nor one another test process
// was given.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { candidateRanges, RESERVATIONS, unusedPort } from '../helpers/ports.js';

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

/** Another test process: takes `count` ports, prints them as JSON, and exits when its stdin closes. */
function otherProcess(count: number): Promise<{ ports: number[]; pid: number; exit: () => Promise<void> }> {
  const code = `const { unusedPort } = await import(${JSON.stringify(PORTS_MODULE)});
const ports = [];
for (let i = 0; i < ${count}; i++) ports.push(await unusedPort());
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

describe('unusedPort', () => {
  it('hands out loopback ports outside the kernel\'s ephemeral range that are free to listen on', async () => {
    const ephemeral = kernelEphemeralRanges();
    for (let i = 0; i < 20; i++) {
      const port = await unusedPort();
      assert.ok(port >= 1024 && port <= 65535, `${port} is a valid unprivileged port`);
      for (const [low, high] of ephemeral) assert.ok(port < low || port > high, `${port} is outside the ephemeral range ${low}-${high}`);
      await listenOnce(port);
    }
  });

  it('never hands out the same port twice in one process', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 300; i++) ports.push(await unusedPort());
    assert.equal(new Set(ports).size, ports.length);
  });

  it('does not hand out a port another live process holds, and that process\'s reservations go when it exits', async () => {
    // 400 ports each from about 27 000: without the reservations, about six would be handed to both.
    const other = await otherProcess(400);
    let exited = false;
    try {
      for (const port of other.ports) assert.equal(fs.readFileSync(path.join(RESERVATIONS, String(port)), 'utf8'), String(other.pid));
      const mine = new Set<number>();
      for (let i = 0; i < 400; i++) mine.add(await unusedPort());
      assert.deepEqual(other.ports.filter((port) => mine.has(port)), [], 'no port of the other process is handed out here');
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
    const [low, high] = candidateRanges()[0]!;
    const free = [...Array(high - low + 1).keys()].map((i) => low + i).filter((port) => !fs.existsSync(path.join(RESERVATIONS, String(port))));
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
