// A real OAuth2 token endpoint on loopback (HTTP): checks the client's credentials (secret, certificate
// assertion or service-account assertion), issues numbered tokens that expire, counts requests, and answers
// whether a token is valid now, so an upstream can verify XOAUTH2 against it.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenEndpointOptions {
  clientId?: string;
  clientSecret?: string;
  /** PEM certificate or public key the client's JWT assertions must verify with (certificate or service account). */
  assertionKey?: string;
  /** expires_in of each token, seconds. */
  lifetime?: number;
  /** The clock tokens expire by (epoch ms); tests share it with the relay's token provider. */
  now?: () => number;
}

export interface TokenRequest {
  body: URLSearchParams;
  /** The assertion's header and claims, when the request carried one (already verified). */
  jwt?: { header: Record<string, unknown>; claims: Record<string, unknown> };
}

export class TokenEndpoint {
  readonly requests: TokenRequest[] = [];
  /** While set, every request is refused with this status and OAuth2 error body. */
  failWith: { status: number; error: string; description: string } | undefined;
  readonly #options: TokenEndpointOptions;
  readonly #issued = new Map<string, number>();
  #server: http.Server | undefined;
  #next = 1;

  constructor(options: TokenEndpointOptions = {}) {
    this.#options = options;
  }

  get url(): string {
    const { port } = this.#server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}/tenant-1/oauth2/v2.0/token`;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Issued by this endpoint and not expired (nor revoked). */
  isValid(token: string): boolean {
    const expiresAt = this.#issued.get(token);
    return expiresAt !== undefined && this.#now() < expiresAt;
  }

  revokeAll(): void {
    this.#issued.clear();
  }

  async start(): Promise<this> {
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const request: TokenRequest = { body };
        this.requests.push(request);
        const refuse = (status: number, error: string, description: string) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error, error_description: description }));
        };
        if (req.method !== 'POST' || req.headers['content-type'] !== 'application/x-www-form-urlencoded') return refuse(400, 'invalid_request', 'POST a form');
        if (this.failWith) return refuse(this.failWith.status, this.failWith.error, this.failWith.description);
        const assertion = body.get('client_assertion') ?? body.get('assertion');
        if (assertion) {
          const jwt = verifyJwt(assertion, this.#options.assertionKey ?? '');
          if (!jwt) return refuse(401, 'invalid_client', 'AADSTS700027: Client assertion contains an invalid signature.');
          request.jwt = jwt;
        } else if (body.get('grant_type') !== 'client_credentials' || body.get('client_id') !== this.#options.clientId || body.get('client_secret') !== this.#options.clientSecret) {
          return refuse(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
        }
        const lifetime = this.#options.lifetime ?? 3600;
        const token = `token-${this.#next++}`;
        this.#issued.set(token, this.#now() + lifetime * 1000);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token_type: 'Bearer', expires_in: lifetime, access_token: token }));
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // fetch keeps its connection alive
    });
  }
}

function verifyJwt(jwt: string, key: string): TokenRequest['jwt'] | undefined {
  const [header, claims, signature] = jwt.split('.');
  if (!header || !claims || !signature || !key) return undefined;
  const ok = crypto.verify('sha256', Buffer.from(`${header}.${claims}`), key, Buffer.from(signature, 'base64url'));
  if (!ok) return undefined;
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}
