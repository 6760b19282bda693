// Test certificates made at run time with openssl (never committed): a CA with the certificates it signs, and a
// self-signed one with its PFX forms. The test runner (scripts/run-tests.ts) makes both sets once per run and
// names the folder in MAILROOT_TEST_CERTS, so that each test file copies them instead of generating RSA keys;
// under Wine, where node.exe cannot run the Linux openssl, `npm run test:windows` makes them instead.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const PFX_PASSPHRASE = 'pfx-pass-1';

const SETS = {
  ca: { write: (dir: string) => writeTestCa(dir), needs: ['ca.pem', 'ca.key', 'smtp.pem', 'smtp.key', 'other.pem', 'other.key', 'app.pem', 'app.key'] },
  'self-signed': { write: (dir: string) => writeTestCertificate(dir), needs: ['cert.pem', 'key.pem', 'cert.pfx'] },
};
export type CertificateSet = keyof typeof SETS;

/** Writes the CA (ca.*), a certificate for 127.0.0.1 and smtp.test (smtp.*), one for other.test only (other.*) and a self-signed app certificate (app.*) into `dir`. */
function writeTestCa(dir: string): void {
  const file = (name: string) => path.join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=mailroot test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const issue = (name: string, san: string) => {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`]);
    const ext = file(`${name}.ext`);
    writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    run(['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${name}.pem`), '-days', '2', '-extfile', ext]);
  };
  issue('smtp', 'IP:127.0.0.1,DNS:smtp.test');
  issue('other', 'DNS:other.test');
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('app.key'), '-out', file('app.pem'), '-days', '2', '-subj', '/CN=mailroot app']);
}

function opensslRuns(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes the certificate, its key and both PFX forms into `dir` with openssl (see writeTestCa for Windows). */
function writeTestCertificate(dir: string): void {
  const file = (name: string) => path.join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('key.pem'), '-out', file('cert.pem'), '-days', '2',
    '-subj', '/CN=relay.test', '-addext', 'subjectAltName=DNS:relay.test,IP:127.0.0.1',
  ]);
  run(['pkcs12', '-export', '-inkey', file('key.pem'), '-in', file('cert.pem'), '-out', file('cert.pfx'), '-passout', `pass:${PFX_PASSPHRASE}`]);
  try {
    run(['pkcs12', '-export', '-legacy', '-inkey', file('key.pem'), '-in', file('cert.pem'), '-out', file('legacy.pfx'), '-passout', `pass:${PFX_PASSPHRASE}`]);
  } catch {
    // an OpenSSL without the legacy provider: no legacy.pfx
  }
}


/**
 * Fills `dir` with a set: copied from the sets made once before the run (MAILROOT_TEST_CERTS, see
 * scripts/run-tests.ts and test-windows.ts), else made here with openssl; false when neither can be.
 */
export function provideCertificates(set: CertificateSet, dir: string): boolean {
  const base = process.env.MAILROOT_TEST_CERTS;
  const premade = base ? path.resolve(base, set) : undefined;
  if (premade && SETS[set].needs.every((name) => existsSync(path.join(premade, name)))) {
    for (const name of readdirSync(premade)) copyFileSync(path.join(premade, name), path.join(dir, name));
    return true;
  }
  if (!opensslRuns()) return false;
  SETS[set].write(dir);
  return true;
}

/** Every set under `base` (one folder each), for a run whose tests cannot start openssl themselves; false without openssl. */
export function writeAllTestCertificates(base: string): boolean {
  if (!opensslRuns()) return false;
  for (const [set, { write }] of Object.entries(SETS)) {
    const dir = path.join(base, set);
    mkdirSync(dir, { recursive: true });
    write(dir);
  }
  return true;
}
