// Crash injection for the fault suite: with MR_FAILPOINT=<name> in the environment, the process kills itself
// (SIGKILL, no cleanup) the first time it reaches that point. Without it, each call is one comparison.
// The variable is deliberately outside the MAILROOT_* namespace, which holds configuration only.

export const FAILPOINTS = [
  'accept-after-write', // message written to SortTemp, not yet fsynced
  'accept-after-fsync', // fsynced, not yet renamed into Queue
  'accept-after-rename', // in Queue, the client has not had its 250
  'deliver-after-upstream-250', // the smart host accepted it, the file is still in Queue
  'badmail-after-report', // the .bdr is written, the message (or Pickup claim) has not moved yet
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

const armed = process.env.MR_FAILPOINT;

export function failpoint(name: Failpoint): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
