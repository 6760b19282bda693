// STARTTLS: the server certificate (PEM key and certificate, or a PFX as Windows exports it) and the protocol
// floor. Loaded and tried once at start-up, so a wrong path, password or key fails the start, not the first client.
import fs from 'node:fs';
import tls from 'node:tls';
import type { TlsVersion } from '../config/tls-versions.js';

export interface TlsSettings {
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tlsPfx: string | undefined;
  tlsPassphrase: string | undefined;
  tlsMinVersion: TlsVersion;
}

/** The options smtp-server takes (it passes them to tls.createSecureContext). */
export interface ServerTlsOptions {
  key?: Buffer | undefined;
  cert?: Buffer | undefined;
  pfx?: Buffer | undefined;
  passphrase?: string | undefined;
  minVersion: TlsVersion;
  ciphers?: string;
}

function readFile(key: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${key}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** undefined when no certificate is configured (STARTTLS is then not offered). Throws with the key named. */
export function loadTlsOptions(settings: TlsSettings): ServerTlsOptions | undefined {
  const { tlsCert, tlsKey, tlsPfx, tlsPassphrase, tlsMinVersion } = settings;
  if (!tlsPfx && !tlsCert) return undefined;
  const options: ServerTlsOptions = tlsPfx
    ? // smtp-server merges its built-in test key and certificate under ours: clear them, or they would mix in.
      { pfx: readFile('tlsPfx', tlsPfx), passphrase: tlsPassphrase, key: undefined, cert: undefined, minVersion: tlsMinVersion }
    : { key: readFile('tlsKey', tlsKey!), cert: readFile('tlsCert', tlsCert!), passphrase: tlsPassphrase, minVersion: tlsMinVersion };
  // OpenSSL 3 refuses TLS 1.0/1.1 at its default security level; an administrator who lowered the floor for
  // an old device means it.
  if (tlsMinVersion === 'TLSv1' || tlsMinVersion === 'TLSv1.1') options.ciphers = 'DEFAULT@SECLEVEL=0';
  try {
    tls.createSecureContext(options);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const source = tlsPfx ? `tlsPfx ${tlsPfx}` : `tlsCert ${tlsCert} / tlsKey ${tlsKey}`;
    if (e.code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION' && tlsPfx) {
      throw new Error(
        `${source}: the PFX uses legacy encryption (RC2/RC4) that OpenSSL 3 no longer reads; export it again with ` +
          `"AES256-SHA256" (or TripleDES-SHA1), or convert it with "openssl pkcs12 -legacy"`,
        { cause: err },
      );
    }
    if (/mac verify failure|bad decrypt/i.test(e.message)) {
      throw new Error(`${source}: wrong tlsPassphrase (${e.message})`, { cause: err });
    }
    throw new Error(`${source}: not a usable certificate and key: ${e.message}`, { cause: err });
  }
  return options;
}
