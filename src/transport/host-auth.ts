// SMTP AUTH at a smart host, after EHLO (and STARTTLS): PLAIN or LOGIN with a password, or XOAUTH2 with a token
// from an OAuth2TokenProvider. nodemailer's SMTPConnection.login runs the SASL exchange; this adds what a relay
// needs around it: one token shared by every connection, and a fresh token when the host rejected the held one.
import type XOAuth2 from 'nodemailer/lib/xoauth2';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { HostAuth } from '../config/smart-hosts.js';
import type { OAuth2TokenProvider } from './oauth2-token.js';

type LoginData = Parameters<SMTPConnection['login']>[0];

/** Signs a connected SMTPConnection in; rejects with nodemailer's EAUTH error when the host refuses. */
export type Authenticator = (connection: SMTPConnection) => Promise<void>;

function login(connection: SMTPConnection, data: LoginData): Promise<void> {
  return new Promise((resolve, reject) => connection.login(data, (err) => (err ? reject(err) : resolve())));
}

export function authenticator(auth: HostAuth, tokens: (auth: HostAuth) => OAuth2TokenProvider): Authenticator {
  if (auth.type === 'password') {
    return (connection) => login(connection, { user: auth.user, pass: auth.password.reveal(), ...(auth.method ? { method: auth.method } : {}) });
  }
  const provider = tokens(auth);
  return async (connection) => {
    let lastToken: string | undefined;
    let fetched = false;
    // The shape nodemailer's login() asks of its XOAuth2 token generator. isRetry: the host answered the last
    // token with a 334 error challenge (Google's way of saying it is invalid).
    const oauth2 = {
      getToken: (isRetry: boolean, callback: (err: Error | null, token?: string) => void) => {
        if (isRetry && lastToken !== undefined) provider.invalidate(lastToken);
        const before = provider.requests;
        provider.getToken().then(
          (token) => {
            lastToken = token;
            if (provider.requests !== before) fetched = true;
            callback(null, token);
          },
          (err: Error) => callback(err),
        );
      },
      buildXOAuth2Token: (token: string) => provider.xoauth2(token),
    } as unknown as XOAuth2;
    const data: LoginData = { user: provider.user, method: 'XOAUTH2', oauth2 };
    try {
      await login(connection, data);
    } catch (err) {
      // Microsoft answers a bad token with 535 at once: if the token was one held from before (revoked, or
      // expired early), fetch a new one and sign in once more on the same connection.
      const response = (err as { response?: string }).response;
      if (fetched || lastToken === undefined || response === undefined) throw err;
      provider.invalidate(lastToken);
      fetched = true;
      await login(connection, data);
    }
  };
}
