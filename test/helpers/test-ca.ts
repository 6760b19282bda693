// A certificate authority made at run time with openssl, and certificates it signs: one for 127.0.0.1 and
// smtp.test (what a smart host presents), one for another name only (a host presenting the wrong name), and a
// self-signed one standing in for an Entra app's certificate credential.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempMailroot } from './relay.js';

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

/** The CA and its certificates, or a reason to skip when openssl is missing. */
export async function makeTestCa(): Promise<TestCa | string> {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return 'openssl is not installed; the outbound TLS tests need it to make a test CA';
  }
  const dir = await tempMailroot();
  const file = (name: string) => path.join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=mailroot test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const issue = (name: string, san: string) => {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`]);
    const ext = file(`${name}.ext`);
    writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    run(['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${name}.pem`), '-days', '2', '-extfile', ext]);
    return { cert: file(`${name}.pem`), key: file(`${name}.key`) };
  };
  const server = issue('smtp', 'IP:127.0.0.1,DNS:smtp.test');
  const wrongName = issue('other', 'DNS:other.test');
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('app.key'), '-out', file('app.pem'), '-days', '2', '-subj', '/CN=mailroot app']);
  return { dir, caFile: file('ca.pem'), server, wrongName, app: { cert: file('app.pem'), key: file('app.key') } };
}
