// A signed JSON Web Token (RS256), the client assertion of OAuth2's JWT-bearer flows: a Microsoft app's
// certificate credential and a Google service account. node:crypto does the signing.
import crypto from 'node:crypto';

export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, privateKeyPem: string): string {
  const signingInput = `${base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...header }))}.${base64url(JSON.stringify(payload))}`;
  const signature = crypto.sign('sha256', Buffer.from(signingInput), privateKeyPem);
  return `${signingInput}.${base64url(signature)}`;
}

/** The certificate's SHA-1 thumbprint, base64url: the "x5t" header by which Microsoft finds the app's certificate. */
export function x5tThumbprint(certificatePem: string): string {
  const cert = new crypto.X509Certificate(certificatePem);
  return base64url(crypto.createHash('sha1').update(cert.raw).digest());
}
