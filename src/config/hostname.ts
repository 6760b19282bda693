// The name the relay gives itself (greeting, EHLO to the smart host, Received: lines, postmaster@ of its
// notifications): checked to be a host name, and by default the machine's fully qualified name. Smart hosts with
// Postfix's reject_non_fqdn_helo_hostname refuse every message, notifications included, from "EHLO vm".
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A DNS host name (letters, digits, hyphens; dot-separated labels of 1 to 63; 253 at most) or an address literal. */
export function isValidHostname(name: string): boolean {
  const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(name);
  if (literal) return net.isIP(literal[1]!) !== 0 && (net.isIPv6(literal[1]!) === /^\[IPv6:/i.test(name));
  const text = name.replace(/\.$/, '');
  return text.length > 0 && text.length <= 253 && text.split('.').every((label) => LABEL.test(label));
}

export function isFullyQualified(name: string): boolean {
  return name.startsWith('[') || name.replace(/\.$/, '').includes('.');
}

/** Runs a small system command; undefined when it is missing, fails or takes more than a few seconds. */
type Run = (file: string, args: string[]) => string | undefined;

const run: Run = (file, args) => {
  try {
    return execFileSync(file, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true });
  } catch {
    return undefined;
  }
};

export interface FqdnSources {
  hostname: () => string;
  platform: NodeJS.Platform;
  run: Run;
}

/** Windows: the computer name and the primary DNS suffix (what "Full computer name" in System shows). */
function windowsSuffix(runCommand: Run): string | undefined {
  const key = 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters';
  for (const value of ['Domain', 'NV Domain']) {
    const out = runCommand('reg', ['query', key, '/v', value]);
    const match = out ? new RegExp(`^\\s*${value}\\s+REG_SZ\\s+(\\S+)\\s*$`, 'mi').exec(out) : null;
    if (match) return match[1];
  }
  return undefined;
}

/** Elsewhere: the resolver's canonical name for the host name (/etc/hosts, then DNS), as `hostname -f` gives it. */
function canonicalName(name: string, runCommand: Run): string | undefined {
  const hosts = runCommand('getent', ['hosts', name]);
  const fromHosts = hosts?.trim().split(/\s+/)[1];
  if (fromHosts && isFullyQualified(fromHosts)) return fromHosts;
  const full = runCommand('hostname', ['-f'])?.trim();
  return full && isFullyQualified(full) ? full : undefined;
}

let cached: string | undefined;

/** The machine's fully qualified name when one can be found, else its short name (the relay warns at start). */
export function machineFqdn(sources?: FqdnSources): string {
  if (sources) return findFqdn(sources);
  cached ??= findFqdn({ hostname: os.hostname, platform: process.platform, run });
  return cached;
}

function findFqdn(sources: FqdnSources): string {
  const short = sources.hostname().trim().replace(/\.$/, '');
  if (isFullyQualified(short) && isValidHostname(short)) return short.toLowerCase();
  let full: string | undefined;
  if (sources.platform === 'win32') {
    const suffix = windowsSuffix(sources.run);
    if (suffix) full = `${short}.${suffix}`;
  } else {
    full = canonicalName(short, sources.run);
  }
  if (full && isValidHostname(full) && isFullyQualified(full)) return full.replace(/\.$/, '').toLowerCase();
  return isValidHostname(short) ? short.toLowerCase() : 'localhost';
}
