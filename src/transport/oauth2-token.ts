// Access tokens for SMTP AUTH XOAUTH2, by OAuth2's client-credentials grant: a Microsoft Entra app (client
// secret or certificate) for Microsoft 365, a Google service account (JWT bearer) for Google Workspace, or any
// token endpoint that takes a client id and secret.
//
// One provider per configured account, shared by every connection to the hosts that use it: one token request
// serves them all, the token is fetched again shortly before it expires (or at once after a host rejected it),
// and a failing endpoint is asked again only after a growing pause, not once per connection attempt.
import crypto from 'node:crypto';
import type { HostAuth, OAuth2Auth } from '../config/smart-hosts.js';
import { parseServiceAccount } from '../config/smart-hosts.js';
import { signJwt, x5tThumbprint } from './jwt.js';

/** Fetch a new token this long before the current one expires (at most a tenth of its lifetime). */
const REFRESH_MARGIN = 5 * 60_000;
/** After a failed token request, the next is made no sooner than this; doubles up to FAILURE_PAUSE_MAX. */
const FAILURE_PAUSE_MIN = 5_000;
const FAILURE_PAUSE_MAX = 5 * 60_000;
const REQUEST_TIMEOUT = 30_000;

interface HeldToken {
  value: string;
  expiresAt: number;
  refreshAt: number;
}

export interface TokenProviderOptions {
  auth: OAuth2Auth;
  /** Epoch ms; injected by tests. */
  now?: () => number;
  /** How long one token request may take. */
  timeout?: number;
}

/** A token endpoint refused or failed: the message is safe to log (it never holds the secret). */
export class TokenError extends Error {
  override name = 'TokenError';
}

export class OAuth2TokenProvider {
  readonly #auth: OAuth2Auth;
  readonly #now: () => number;
  readonly #timeout: number;
  readonly #buildBody: () => URLSearchParams;
  #token: HeldToken | undefined;
  #inFlight: Promise<string> | undefined;
  #failure: { error: TokenError; retryAt: number; pause: number } | undefined;
  /** Token requests made, for operators and tests. */
  requests = 0;

  constructor(options: TokenProviderOptions) {
    this.#auth = options.auth;
    this.#now = options.now ?? Date.now;
    this.#timeout = options.timeout ?? REQUEST_TIMEOUT;
    this.#buildBody = grantBody(options.auth, this.#now);
  }

  get user(): string {
    return this.#auth.user;
  }

  get description(): string {
    return `${this.#auth.provider} token for ${this.#auth.user} from ${new URL(this.#auth.tokenUrl).host}`;
  }

  /** A token valid now: the held one, or a new one (one request however many callers wait for it). */
  async getToken(): Promise<string> {
    const now = this.#now();
    const held = this.#token;
    if (held && now < held.refreshAt) return held.value;
    if (this.#failure && now < this.#failure.retryAt) {
      // The endpoint failed a moment ago: a token that has not expired yet still serves.
      if (held && now < held.expiresAt) return held.value;
      throw this.#failure.error;
    }
    this.#inFlight ??= this.#fetch().finally(() => (this.#inFlight = undefined));
    try {
      return await this.#inFlight;
    } catch (err) {
      if (held && this.#now() < held.expiresAt) return held.value;
      throw err;
    }
  }

  /** A host rejected `token`: the next getToken() fetches a new one (unless one was fetched meanwhile). */
  invalidate(token: string): void {
    if (this.#token?.value === token) this.#token = undefined;
  }

  /** The SASL XOAUTH2 initial response for `token`. */
  xoauth2(token: string): string {
    return Buffer.from(`user=${this.#auth.user}\x01auth=Bearer ${token}\x01\x01`, 'utf8').toString('base64');
  }

  async #fetch(): Promise<string> {
    this.requests++;
    const started = this.#now();
    try {
      const token = await this.#request();
      const lifetime = token.expiresIn * 1000;
      this.#token = {
        value: token.accessToken,
        expiresAt: started + lifetime,
        refreshAt: started + lifetime - Math.min(REFRESH_MARGIN, lifetime / 10),
      };
      this.#failure = undefined;
      return token.accessToken;
    } catch (err) {
      const error = err instanceof TokenError ? err : new TokenError(`token request to ${this.#auth.tokenUrl} failed: ${(err as Error).message}`);
      const pause = Math.min(FAILURE_PAUSE_MAX, this.#failure ? this.#failure.pause * 2 : FAILURE_PAUSE_MIN);
      this.#failure = { error, retryAt: this.#now() + pause, pause };
      throw error;
    }
  }

  async #request(): Promise<{ accessToken: string; expiresIn: number }> {
    const url = this.#auth.tokenUrl;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: this.#buildBody().toString(),
      signal: AbortSignal.timeout(this.#timeout),
    });
    const text = await response.text();
    let data: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
    } catch {
      // not JSON: reported below with the status
    }
    if (!response.ok) {
      // {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided. ..."}
      const reason = [data.error, data.error_description].filter((part) => typeof part === 'string').join(': ').split(/\r?\n/)[0];
      throw new TokenError(`token endpoint ${url} answered ${response.status}${reason ? `: ${reason.slice(0, 300)}` : ''}`);
    }
    const accessToken = data.access_token;
    const expiresIn = Number(data.expires_in ?? 3600);
    if (typeof accessToken !== 'string' || accessToken === '') throw new TokenError(`token endpoint ${url} answered without an access_token`);
    if (!Number.isFinite(expiresIn) || expiresIn <= 0) throw new TokenError(`token endpoint ${url} answered with expires_in ${JSON.stringify(data.expires_in)}`);
    return { accessToken, expiresIn };
  }
}

/** The form body of the token request for this account; assertions are signed afresh for each request. */
function grantBody(auth: OAuth2Auth, now: () => number): () => URLSearchParams {
  if (auth.provider === 'google') {
    const parsed = parseServiceAccount(auth.serviceAccount!);
    if (!parsed.ok) throw new TokenError(`${auth.serviceAccount!.key}File ${parsed.reason}`);
    const key = parsed.value;
    return () => {
      const iat = Math.floor(now() / 1000);
      const assertion = signJwt(
        {},
        { iss: key.clientEmail, sub: auth.user, scope: auth.scope, aud: auth.tokenUrl, iat, exp: iat + 3600 },
        key.privateKey,
      );
      return new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    };
  }
  const base = { grant_type: 'client_credentials', client_id: auth.clientId!, ...(auth.scope ? { scope: auth.scope } : {}) };
  if (auth.privateKey) {
    const x5t = x5tThumbprint(auth.certificate!.reveal());
    const privateKey = auth.privateKey.reveal();
    return () => {
      const iat = Math.floor(now() / 1000);
      const assertion = signJwt(
        { x5t },
        { aud: auth.tokenUrl, iss: auth.clientId, sub: auth.clientId, jti: crypto.randomUUID(), nbf: iat, iat, exp: iat + 600 },
        privateKey,
      );
      return new URLSearchParams({ ...base, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
    };
  }
  return () => new URLSearchParams({ ...base, client_secret: auth.clientSecret!.reveal() });
}

/** One provider per OAuth2 account, so every connection that signs in as it (queued mail, alert mail) shares its token. */
export class TokenProviders {
  readonly #providers = new Map<string, OAuth2TokenProvider>();
  readonly #now: (() => number) | undefined;

  constructor(now?: () => number) {
    this.#now = now;
  }

  for(auth: HostAuth): OAuth2TokenProvider {
    if (auth.type !== 'xoauth2') throw new Error('not an OAuth2 account');
    const key = JSON.stringify([auth.provider, auth.tokenUrl, auth.clientId, auth.scope, auth.user]);
    let provider = this.#providers.get(key);
    if (!provider) {
      provider = new OAuth2TokenProvider({ auth, ...(this.#now ? { now: this.#now } : {}) });
      this.#providers.set(key, provider);
    }
    return provider;
  }

  /** Token requests made so far, all accounts (tests, operators). */
  get requests(): number {
    let total = 0;
    for (const provider of this.#providers.values()) total += provider.requests;
    return total;
  }
}
