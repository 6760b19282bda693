// Helpers for the inbound tests: a relay whose log lines the test can read, a test certificate made with
// openssl at run time, and small assertions on the mailroot.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { ConfigKey } from '../../src/config/schema.js';
import { Relay } from '../../src/relay.js';
import { filesIn, tempMailroot, testRelayConfig } from './relay.js';
import { PFX_PASSPHRASE, provideCertificates } from './test-certificates.js';

export interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface LoggedRelay {
  relay: Relay;
  logs: LogLine[];
  mailroot: string;
}

/** startRelay's settings (loopback listener on a free port, short retries), plus a log kept in memory. */
export async function startLoggedRelay(smartHost: string, settings: Partial<Record<ConfigKey, unknown>> = {}): Promise<LoggedRelay> {
  const mailroot = await tempMailroot();
  const config = testRelayConfig(mailroot, smartHost, settings);
  const logs: LogLine[] = [];
  const sink = new Writable({
    objectMode: true,
    write(info: LogLine, _encoding, callback) {
      logs.push(info);
      callback();
    },
  });
  const transports: winston.transport[] = [new winston.transports.Stream({ stream: sink })];
  if (process.env.TEST_LOG === '1') transports.push(new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] }));
  const log = winston.createLogger({ level: process.env.TEST_LOG === '1' ? 'debug' : 'info', transports });
  const relay = await Relay.start(config, log);
  return { relay, logs, mailroot };
}

export function portOf(relay: Relay, host = '127.0.0.1'): number {
  const bound = relay.listening.find((b) => b.host === host);
  if (!bound) throw new Error(`relay is not listening on ${host}`);
  return bound.port;
}

/** Contents of every .eml file in a folder, as latin1 text. */
export async function messagesIn(dir: string): Promise<string[]> {
  const names = await filesIn(dir, '.eml');
  return Promise.all(names.map(async (name) => (await fs.readFile(path.join(dir, name))).toString('latin1')));
}

/** No bare CR or LF anywhere: every CR is followed by LF and every LF preceded by CR. */
export const CRLF_ONLY = /^(?:[^\r\n]|\r\n)*$/;

export interface TestCertificate {
  dir: string;
  cert: string;
  key: string;
  /** PKCS#12 with modern encryption (AES-256, as Windows "AES256-SHA256" exports). */
  pfx: string;
  /** PKCS#12 with RC2-40, as old Windows exports: OpenSSL 3 cannot read it without the legacy provider. */
  legacyPfx: string | undefined;
  passphrase: string;
}

/** A self-signed certificate for relay.test and 127.0.0.1, or a reason to skip when openssl is missing. */
export async function makeTestCertificate(): Promise<TestCertificate | string> {
  const dir = await tempMailroot();
  if (!provideCertificates('self-signed', dir)) return 'openssl is not installed; the TLS tests need it to make a test certificate';
  const legacy = path.join(dir, 'legacy.pfx');
  const legacyPfx = await fs.access(legacy).then(() => legacy, () => undefined);
  return { dir, cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), pfx: path.join(dir, 'cert.pfx'), legacyPfx, passphrase: PFX_PASSPHRASE };
}
