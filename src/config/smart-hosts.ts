// The smartHost and routes keys: which upstream hosts take which mail, and how to talk to each (port, TLS mode,
// certificate checks, AUTH). A host is "host:port" (IIS's "[10.0.0.5]" too) or, in the JSON file, an object
// with per-host settings. Errors name the key and the entry: `smartHost[1].auth.clientId`.
import crypto from 'node:crypto';
import path from 'node:path';
import { failure, ok, type Result } from '../result.js';
import { canonicalDomain } from './domain.js';
import { Secret, type SecretSource } from './secret.js';
import type { HostPort } from './schema.js';

export const OUTBOUND_TLS_MODES = ['opportunistic', 'required', 'implicit', 'none'] as const;
/**
 * opportunistic: STARTTLS when offered, certificate not checked (today's default, Postfix's "may").
 * required: STARTTLS must succeed and the certificate must verify (name and CA); otherwise nothing is sent.
 * implicit: TLS from the first byte (port 465), verified like required.
 * none: never STARTTLS.
 */
export type OutboundTlsMode = (typeof OUTBOUND_TLS_MODES)[number];

export const OAUTH2_PROVIDERS = ['microsoft', 'google', 'client-credentials'] as const;
export type OAuth2Provider = (typeof OAUTH2_PROVIDERS)[number];

export interface PasswordAuth {
  type: 'password';
  /** PLAIN or LOGIN; undefined: the first the host offers (PLAIN before LOGIN). */
  method: 'PLAIN' | 'LOGIN' | undefined;
  user: string;
  password: Secret;
}

export interface OAuth2Auth {
  type: 'xoauth2';
  provider: OAuth2Provider;
  /** The mailbox the relay sends as (the XOAUTH2 "user="). */
  user: string;
  tokenUrl: string;
  scope: string;
  clientId: string | undefined;
  clientSecret: Secret | undefined;
  /** Microsoft: a certificate credential instead of a client secret (PEM files). */
  certificate: Secret | undefined;
  privateKey: Secret | undefined;
  /** Google: the service account's JSON key file, as the Cloud console downloads it. */
  serviceAccount: Secret | undefined;
}

export type HostAuth = PasswordAuth | OAuth2Auth;

export interface SmartHostSpec extends HostPort {
  /** The word "mx": deliver straight to the recipient domain's mail exchangers (port outboundPort). */
  mx?: boolean | undefined;
  /** undefined until finishSmartHosts: then the host's own, else implicit on 465, required with AUTH, else smartHostTls. */
  tls?: OutboundTlsMode | undefined;
  /** PEM file of the CAs that may sign its certificate; undefined: the system's CAs. */
  caFile?: string | undefined;
  /** The name its certificate must carry, when it differs from `host` (an IP literal, say). */
  servername?: string | undefined;
  auth?: HostAuth | undefined;
  /** Open a new connection after this many messages (IIS: 20). */
  maxMessagesPerConnection?: number | undefined;
}

export interface Route {
  /** "corp.example" (that domain only) or "*.corp.example" (its subdomains, not itself). */
  domain: string;
  hosts: SmartHostSpec[];
}

const HOST_FIELDS = ['host', 'port', 'tls', 'caFile', 'servername', 'auth', 'maxMessagesPerConnection'];
const AUTH_FIELDS = [
  'type', 'method', 'user', 'password', 'passwordFile', 'passwordEnv', 'provider', 'tenantId', 'clientId',
  'clientSecret', 'clientSecretFile', 'clientSecretEnv', 'certificateFile', 'privateKeyFile', 'serviceAccountFile',
  'scope', 'tokenUrl',
];

class SpecError extends Error {}

function describe(raw: unknown): string {
  return JSON.stringify(raw);
}

function str(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new SpecError(`${where}.${key} must be a non-empty string (got ${describe(value)})`);
  return value.trim();
}

function required(obj: Record<string, unknown>, key: string, where: string, why: string): string {
  const value = str(obj, key, where);
  if (value === undefined) throw new SpecError(`${where}.${key} is required ${why}`);
  return value;
}

/** `key`, `keyFile` or `keyEnv`: exactly one of them, or none. */
function secret(obj: Record<string, unknown>, key: string, where: string): Secret | undefined {
  const sources: SecretSource[] = [];
  if (obj[key] !== undefined) {
    if (typeof obj[key] !== 'string' || obj[key] === '') throw new SpecError(`${where}.${key} must be a non-empty string`);
    sources.push({ value: obj[key] });
  }
  const file = str(obj, `${key}File`, where);
  if (file !== undefined) sources.push({ file });
  const env = str(obj, `${key}Env`, where);
  if (env !== undefined) sources.push({ env });
  if (sources.length > 1) throw new SpecError(`${where}: set one of ${key}, ${key}File and ${key}Env, not several`);
  return sources.length === 1 ? new Secret(sources[0]!, `${where}.${key}`) : undefined;
}

function checkFields(obj: Record<string, unknown>, known: string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) throw new SpecError(`${where} has an unknown setting "${key}"; known: ${known.join(', ')}`);
  }
}

function isObject(raw: unknown): raw is Record<string, unknown> {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw);
}

function parseAuth(raw: unknown, where: string): HostAuth {
  if (!isObject(raw)) throw new SpecError(`${where} must be an object such as {"type": "xoauth2", ...} (got ${describe(raw)})`);
  checkFields(raw, AUTH_FIELDS, where);
  const type = (str(raw, 'type', where) ?? 'password').toLowerCase();
  const user = required(raw, 'user', where, '(the account or mailbox to sign in as)');
  if (type === 'password' || type === 'plain' || type === 'login') {
    const methodText = str(raw, 'method', where)?.toUpperCase() ?? (type === 'password' ? undefined : type.toUpperCase());
    if (methodText !== undefined && methodText !== 'PLAIN' && methodText !== 'LOGIN') {
      throw new SpecError(`${where}.method must be "PLAIN" or "LOGIN" (got ${describe(raw.method)})`);
    }
    const password = secret(raw, 'password', where);
    if (!password) throw new SpecError(`${where}: set password, passwordFile or passwordEnv`);
    return { type: 'password', method: methodText as 'PLAIN' | 'LOGIN' | undefined, user, password };
  }
  if (type !== 'xoauth2') throw new SpecError(`${where}.type must be "password", "plain", "login" or "xoauth2" (got ${describe(raw.type)})`);
  const provider = (str(raw, 'provider', where) ?? 'microsoft') as OAuth2Provider;
  if (!(OAUTH2_PROVIDERS as readonly string[]).includes(provider)) {
    throw new SpecError(`${where}.provider must be one of ${OAUTH2_PROVIDERS.join(', ')} (got ${describe(raw.provider)})`);
  }
  const auth: OAuth2Auth = {
    type: 'xoauth2',
    provider,
    user,
    tokenUrl: '',
    scope: '',
    clientId: undefined,
    clientSecret: undefined,
    certificate: undefined,
    privateKey: undefined,
    serviceAccount: undefined,
  };
  const tokenUrl = str(raw, 'tokenUrl', where);
  if (tokenUrl !== undefined && !/^https?:\/\/\S+$/.test(tokenUrl)) throw new SpecError(`${where}.tokenUrl must be an http(s) URL (got ${describe(tokenUrl)})`);
  if (provider === 'google') {
    if (raw.serviceAccountFile === undefined) throw new SpecError(`${where}.serviceAccountFile is required for provider "google" (the service account's JSON key)`);
    auth.serviceAccount = new Secret({ file: str(raw, 'serviceAccountFile', where)! }, `${where}.serviceAccount`);
    auth.scope = str(raw, 'scope', where) ?? 'https://mail.google.com/';
    auth.tokenUrl = tokenUrl ?? ''; // the key file's token_uri unless set
    return auth;
  }
  auth.clientId = required(raw, 'clientId', where, `for provider "${provider}" (the application (client) ID)`);
  auth.clientSecret = secret(raw, 'clientSecret', where);
  if (provider === 'microsoft') {
    const tenant = tokenUrl === undefined ? required(raw, 'tenantId', where, 'for provider "microsoft" (the directory (tenant) ID)') : str(raw, 'tenantId', where);
    if (tenant !== undefined && !/^[A-Za-z0-9.-]+$/.test(tenant)) throw new SpecError(`${where}.tenantId must be a tenant ID or domain (got ${describe(tenant)})`);
    auth.tokenUrl = tokenUrl ?? `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/token`;
    auth.scope = str(raw, 'scope', where) ?? 'https://outlook.office365.com/.default';
    const certificateFile = str(raw, 'certificateFile', where);
    if (certificateFile !== undefined) auth.certificate = new Secret({ file: certificateFile }, `${where}.certificate`);
    const keyFile = str(raw, 'privateKeyFile', where);
    if ((certificateFile === undefined) !== (keyFile === undefined)) throw new SpecError(`${where}: certificateFile and privateKeyFile go together`);
    if (keyFile !== undefined) auth.privateKey = new Secret({ file: keyFile }, `${where}.privateKey`);
    if (!auth.clientSecret === !auth.privateKey) {
      throw new SpecError(`${where}: set either a client secret (clientSecret, clientSecretFile or clientSecretEnv) or certificateFile with privateKeyFile`);
    }
    return auth;
  }
  if (tokenUrl === undefined) throw new SpecError(`${where}.tokenUrl is required for provider "client-credentials"`);
  if (!auth.clientSecret) throw new SpecError(`${where}: set clientSecret, clientSecretFile or clientSecretEnv`);
  auth.tokenUrl = tokenUrl;
  auth.scope = str(raw, 'scope', where) ?? '';
  return auth;
}

/** Parses one host: "host:port" / "[10.0.0.5]" or an object of per-host settings. */
export function parseSmartHostEntry(
  raw: unknown,
  where: string,
  parseHostPort: (raw: unknown, defaultPort: number) => Result<HostPort>,
): SmartHostSpec {
  const spec: SmartHostSpec = { host: '', port: 25, tls: undefined, caFile: undefined, servername: undefined, auth: undefined, maxMessagesPerConnection: undefined };
  if (typeof raw === 'string' && raw.trim().toLowerCase() === 'mx') return { ...spec, host: 'mx', mx: true, tls: 'opportunistic' };
  if (!isObject(raw)) {
    const parsed = parseHostPort(raw, 25);
    if (!parsed.ok) throw new SpecError(`${where} ${parsed.reason}`);
    return { ...spec, ...parsed.value };
  }
  checkFields(raw, HOST_FIELDS, where);
  const hostPort = parseHostPort(raw.host, 25);
  if (!hostPort.ok) throw new SpecError(`${where}.host ${hostPort.reason}`);
  spec.host = hostPort.value.host;
  spec.port = hostPort.value.port;
  if (raw.port !== undefined) {
    const port = typeof raw.port === 'string' ? Number(raw.port) : raw.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new SpecError(`${where}.port must be a port number (got ${describe(raw.port)})`);
    spec.port = port;
  }
  const tls = str(raw, 'tls', where);
  if (tls !== undefined && !(OUTBOUND_TLS_MODES as readonly string[]).includes(tls)) {
    throw new SpecError(`${where}.tls must be one of ${OUTBOUND_TLS_MODES.join(', ')} (got ${describe(tls)})`);
  }
  spec.tls = tls as OutboundTlsMode | undefined;
  spec.caFile = str(raw, 'caFile', where);
  spec.servername = str(raw, 'servername', where);
  if (raw.auth !== undefined) spec.auth = parseAuth(raw.auth, `${where}.auth`);
  if (raw.maxMessagesPerConnection !== undefined) {
    const n = raw.maxMessagesPerConnection;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new SpecError(`${where}.maxMessagesPerConnection must be a whole number above zero (got ${describe(n)})`);
    spec.maxMessagesPerConnection = n;
  }
  return spec;
}

export function parseSmartHostList(
  raw: unknown,
  key: string,
  parseHostPort: (raw: unknown, defaultPort: number) => Result<HostPort>,
): Result<SmartHostSpec[]> {
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length === 0) return failure('must list at least one host');
  try {
    const single = items.length === 1;
    return ok(items.map((item, index) => parseSmartHostEntry(item, single ? key : `${key}[${index}]`, parseHostPort)));
  } catch (err) {
    // The loader puts the key in front: "config: smartHost[1].auth.clientId is required ...".
    if (err instanceof SpecError) return failure(err.message.startsWith(key) ? err.message.slice(key.length).replace(/^ /, '') : err.message);
    throw err;
  }
}

/** {"corp.example": "[10.0.0.5]", "*.corp.example": ["a:25", {"host": "b", ...}]} */
export function parseRoutes(raw: unknown, parseHostPort: (raw: unknown, defaultPort: number) => Result<HostPort>): Result<Route[]> {
  let value = raw;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return failure(`must be a JSON object of domain -> hosts, like {"corp.example": "[10.0.0.5]"} (got ${describe(raw)})`);
    }
  }
  if (!isObject(value)) return failure(`must be an object of domain -> hosts, like {"corp.example": "[10.0.0.5]"} (got ${describe(raw)})`);
  const routes: Route[] = [];
  try {
    for (const [pattern, hostsRaw] of Object.entries(value)) {
      const wildcard = pattern.startsWith('*.');
      const domain = canonicalDomain(wildcard ? pattern.slice(2) : pattern);
      if (!/^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/.test(domain)) {
        throw new SpecError(`routes: ${describe(pattern)} must be a domain such as "corp.example" or "*.corp.example"`);
      }
      const where = `routes[${describe(pattern)}]`;
      const items = Array.isArray(hostsRaw) ? hostsRaw : [hostsRaw];
      if (items.length === 0) throw new SpecError(`${where} must list at least one host`);
      routes.push({ domain: wildcard ? `*.${domain}` : domain, hosts: items.map((item, i) => parseSmartHostEntry(item, `${where}[${i}]`, parseHostPort)) });
    }
  } catch (err) {
    if (err instanceof SpecError) return failure(err.message.replace(/^routes:? ?/, ''));
    throw err;
  }
  return ok(routes);
}

export interface SmartHostDefaults {
  smartHostTls: OutboundTlsMode;
  smartHostCaFile: string | undefined;
  smartHostUser: string | undefined;
  smartHostPassword: Secret | undefined;
  smartHostPasswordFile: string | undefined;
}

/**
 * After every key is parsed: fills each host's TLS mode and credentials from the smartHost* keys, resolves file
 * paths against the working folder, and reads every secret (from its file or environment variable). Returns the
 * first error, naming the key.
 */
export function finishSmartHosts(hosts: SmartHostSpec[], defaults: SmartHostDefaults, cwd: string, env: NodeJS.ProcessEnv): string | undefined {
  if (defaults.smartHostPassword !== undefined && defaults.smartHostPasswordFile !== undefined) {
    return 'config: set smartHostPassword or smartHostPasswordFile, not both';
  }
  const hasPassword = defaults.smartHostPassword !== undefined || defaults.smartHostPasswordFile !== undefined;
  if (hasPassword !== (defaults.smartHostUser !== undefined)) {
    return 'config: smartHostUser and smartHostPassword (or smartHostPasswordFile) go together: set both';
  }
  let sharedPassword: Secret | undefined;
  if (defaults.smartHostPassword !== undefined) sharedPassword = defaults.smartHostPassword;
  if (defaults.smartHostPasswordFile !== undefined) sharedPassword = new Secret({ file: defaults.smartHostPasswordFile }, 'smartHostPassword');
  if (sharedPassword) {
    const error = sharedPassword.load(cwd, env);
    if (error) return error;
  }
  for (const host of hosts) {
    if (host.mx) continue; // mail exchangers: opportunistic TLS, no AUTH
    if (!host.auth && sharedPassword) host.auth = { type: 'password', method: undefined, user: defaults.smartHostUser!, password: sharedPassword };
    // Credentials never cross in clear unless the operator says so for that host.
    host.tls ??= host.port === 465 ? 'implicit' : host.auth ? 'required' : defaults.smartHostTls;
    host.caFile ??= defaults.smartHostCaFile;
    if (host.caFile !== undefined) host.caFile = path.resolve(cwd, host.caFile);
    const auth = host.auth;
    if (!auth) continue;
    const secrets = auth.type === 'password' ? [auth.password] : [auth.clientSecret, auth.certificate, auth.privateKey, auth.serviceAccount];
    for (const item of secrets) {
      const error = item?.load(cwd, env);
      if (error) return error;
    }
    if (auth.type === 'xoauth2' && auth.certificate && auth.privateKey) {
      try {
        new crypto.X509Certificate(auth.certificate.reveal());
      } catch {
        return `config: ${auth.certificate.key}File is not a PEM certificate`;
      }
      try {
        crypto.createPrivateKey(auth.privateKey.reveal());
      } catch {
        return `config: ${auth.privateKey.key}File is not a PEM private key (not encrypted)`;
      }
    }
    if (auth.type === 'xoauth2' && auth.serviceAccount) {
      const key = parseServiceAccount(auth.serviceAccount);
      if (!key.ok) return `config: ${auth.serviceAccount.key}File ${key.reason}`;
      if (auth.tokenUrl === '') auth.tokenUrl = key.value.tokenUri;
    }
  }
  return undefined;
}

export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: string;
  tokenUri: string;
}

/** A Google service account's JSON key file, or what is wrong with it. */
export function parseServiceAccount(secret: Secret): Result<ServiceAccountKey> {
  let data: unknown;
  try {
    data = JSON.parse(secret.reveal());
  } catch {
    return failure('is not a JSON key file (download one under IAM > Service accounts > Keys)');
  }
  if (!isObject(data) || typeof data.client_email !== 'string' || typeof data.private_key !== 'string') {
    return failure('has no client_email and private_key: is it a service account key?');
  }
  const tokenUri = typeof data.token_uri === 'string' ? data.token_uri : 'https://oauth2.googleapis.com/token';
  return ok({ clientEmail: data.client_email, privateKey: data.private_key, tokenUri });
}

/** "host:port", IPv6 in brackets: how a host is named in logs, .bdr files and NDRs. */
export function hostLabel(host: HostPort): string {
  return host.host.includes(':') ? `[${host.host}]:${host.port}` : `${host.host}:${host.port}`;
}
