// The one shape for "a value, or the reason there is none": every parse or check that can fail without throwing
// returns a Result, so callers test `ok` the same way everywhere. `Why` is a string (a reason for the log, an
// error message naming a config key) unless the caller needs more (an SmtpError for the client).
export type Result<T, Why = string> = { ok: true; value: T } | { ok: false; reason: Why };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function failure<Why = string>(reason: Why): { ok: false; reason: Why } {
  return { ok: false, reason };
}
