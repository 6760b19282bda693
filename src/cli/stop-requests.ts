// Every way an operator, a service manager or a parent process asks the relay to stop, funnelled into one
// callback, so that a stop is the same clean stop on Linux and on Windows.
//
// Windows has no SIGTERM: `kill()` there terminates the process at once. What a Windows process does receive is
// Ctrl+C (SIGINT: the console, or WinSW stopping the service), Ctrl+Break (SIGBREAK) and the console window
// closing (SIGHUP; Windows ends the process a few seconds later whatever it does). A parent process that started
// the relay with an IPC channel (tests, scripts) sends STOP_MESSAGE instead: that works the same everywhere.
import type { EventEmitter } from 'node:events';

/** Sent over the IPC channel of a relay started with `stdio: [..., 'ipc']`: `child.send(STOP_MESSAGE)`. */
export const STOP_MESSAGE = 'mailroot:stop';

/** SIGTERM: systemd, kill. SIGINT: Ctrl+C, WinSW. SIGBREAK: Ctrl+Break (Windows). SIGHUP: terminal or console closed. */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGBREAK', 'SIGHUP'] as const;

/** The part of `process` used here, so a test can pass its own emitter. */
export interface StopSource extends Pick<EventEmitter, 'on' | 'off'> {
  channel?: { unref(): void } | undefined;
}

/**
 * Calls `onStop(reason)` for each stop request (a signal name, or "stop message"); the caller makes the stop
 * happen once. Returns a function that removes the listeners.
 */
export function onStopRequest(onStop: (reason: string) => void, source: StopSource = process): () => void {
  const bySignal = STOP_SIGNALS.map((signal) => [signal, () => onStop(signal)] as const);
  for (const [signal, listener] of bySignal) source.on(signal, listener);
  const onMessage = (message: unknown) => {
    if (message === STOP_MESSAGE) onStop('stop message');
  };
  source.on('message', onMessage);
  // The channel must not keep the process alive on its own, nor its parent's exit stop the relay.
  source.channel?.unref();
  return () => {
    for (const [signal, listener] of bySignal) source.off(signal, listener);
    source.off('message', onMessage);
  };
}
