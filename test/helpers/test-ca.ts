// A certificate authority made at run time with openssl, and certificates it signs: one for 127.0.0.1 and
// smtp.test (what a smart host presents), one for another name only (a host presenting the wrong name), and a
// self-signed one standing in for an Entra app's certificate credential.
import path from 'node:path';
import { tempMailroot } from './relay.js';
import { provideCertificates } from './test-certificates.js';

export interface TestCa {
  dir: string;
  /** The CA's certificate (PEM file): what mailroot is given as caFile. */
  caFile: string;
  /** Signed by the CA for IP 127.0.0.1 and DNS smtp.test. */
  server: { cert: string; key: string };
  /** Signed by the CA for DNS other.test only. */
  wrongName: { cert: string; key: string };
  /** Self-signed, for an OAuth2 certificate credential. */
  app: { cert: string; key: string };
}

/** The CA and its certificates, or a reason to skip when openssl is missing and none were made beforehand. */
export async function makeTestCa(): Promise<TestCa | string> {
  const dir = await tempMailroot();
  if (!provideCertificates('ca', dir)) return 'openssl is not installed; the outbound TLS tests need it to make a test CA';
  const file = (name: string) => path.join(dir, name);
  const pair = (name: string) => ({ cert: file(`${name}.pem`), key: file(`${name}.key`) });
  return { dir, caFile: file('ca.pem'), server: pair('smtp'), wrongName: pair('other'), app: pair('app') };
}
