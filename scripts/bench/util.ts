// Small helpers shared by the benchmark scenarios: clocks, percentiles, ports, bounded waiting.

export { nowMs } from '../../test/helpers/relay-process.js';
export { unusedPort } from '../../test/helpers/ports.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The p-th percentile (0..100) of `values` by the nearest-rank method; undefined when there are none. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function round(value: number | undefined | null, digits = 1): number | null {
  if (value === undefined || value === null || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Polls `check` every `intervalMs` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** A 4 KiB-ish RFC 5322 message of exactly `size` bytes, CRLF line endings, no line starting with a dot. */
export function makeMessage(size: number, tag: string): Buffer {
  const head =
    `From: bench@example.com\r\nTo: sink@example.net\r\nSubject: bench ${tag}\r\n` +
    `Message-ID: <${tag}@bench.example>\r\nDate: ${new Date().toUTCString()}\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvwxyz.\r\n';
  let body = '';
  while (head.length + body.length + line.length <= size) body += line;
  const rest = size - head.length - body.length;
  if (rest >= 2) body += 'x'.repeat(rest - 2) + '\r\n';
  return Buffer.from(head + body, 'latin1');
}

export function mb(kb: number | undefined | null): number | null {
  return kb === undefined || kb === null ? null : round(kb / 1024, 1);
}
