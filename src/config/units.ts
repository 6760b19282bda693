// Parsers for the human units used in config values: durations ("15m") and sizes ("2MB").
// Each returns undefined for input it does not understand; the caller names the key in the error.

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** "2s", "15m", "1.5h", "2d", "250ms" -> milliseconds. A bare number is taken as seconds. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  if (!match) return undefined;
  const unit = (match[2] ?? 's').toLowerCase();
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[unit]!);
}

// Binary units, as IIS counts them: its 2048 KB message limit is 2 MB here.
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  k: 1024,
  mb: 1024 ** 2,
  m: 1024 ** 2,
  gb: 1024 ** 3,
  g: 1024 ** 3,
};

/** "2MB", "2048KB", "512k", 1048576 -> bytes. A bare number is bytes. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (!match) return undefined;
  const unit = (match[2] || 'b').toLowerCase();
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * factor);
  return bytes > 0 ? bytes : undefined;
}

/** Whole units, largest first: what formatDuration and describeDuration write. */
const WHOLE_UNITS = [
  ['d', 'day', 86_400_000],
  ['h', 'hour', 3_600_000],
  ['m', 'minute', 60_000],
  ['s', 'second', 1000],
] as const;

/** Milliseconds -> a config value parseDuration reads back: "15m", "2d", "250ms". */
export function formatDuration(ms: number): string {
  for (const [unit, , size] of WHOLE_UNITS) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Milliseconds -> words for a person (a Badmail reason): "2 day(s)", "3 second(s)"; seconds at the finest. */
export function describeDuration(ms: number): string {
  for (const [, word, size] of WHOLE_UNITS) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${word}(s)`;
  }
  return `${Math.round(ms / 1000)} second(s)`;
}
