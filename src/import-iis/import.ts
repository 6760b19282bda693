// Maps one IIS SMTP virtual server's metabase settings to a mailroot config, with a report line for every
// setting: mapped as it was, changed (mailroot does it differently), not supported, or needing review (the
// importer chose the safe reading: nothing it writes gives a client more than IIS did).
import path from 'node:path';
import { KEY_NAMES, checkConfig, keySpec, type Config, type ConfigKey } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { decodeIpSecList, formatIpEntry } from './ipsec-list.js';
import { resolveProperty, type MetabaseKey, type SmtpMetabase } from './metabase.js';

export type ReportStatus = 'mapped' | 'changed' | 'not-supported' | 'review' | 'ignored';

export interface ReportItem {
  /** The IIS property (or a group, e.g. "Domain partner.example"). */
  property: string;
  /** As found in MetaBase.xml ("(absent)" when IIS's default applies); secrets are never copied. */
  iis: string;
  status: ReportStatus;
  /** The mailroot key it became, if any. */
  key?: ConfigKey;
  note: string;
}

export interface ImportOptions {
  /** Virtual server instance number; default: 1, or the only one. */
  server?: string;
  /** Carry over "All except the list below" relay settings, which make an open relay. */
  acceptOpenRelay?: boolean;
}

export interface ImportResult {
  server: string;
  /** The config to write, keys in the README's order. */
  config: Record<string, unknown>;
  report: ReportItem[];
  /** Some setting was imported in a narrower form, or needs a value the metabase cannot give (a password). */
  needsReview: boolean;
}

export class ImportError extends Error {
  override name = 'ImportError';
}

const UNLIMITED = new Set(['4294967295', '-1']);

/** Every property this importer reads; anything else on the server key is listed as ignored. */
const KNOWN = new Set([
  'SmartHost', 'SmartHostType', 'RemoteSmtpPort', 'RemoteTimeout', 'MaxOutConnections', 'MaxOutConnectionsPerDomain',
  'MaxBatchedMessages', 'HopCount', 'MasqueradeDomain', 'DoMasquerade', 'FullyQualifiedDomainName', 'DefaultDomain',
  'MaxMessageSize', 'MaxSessionSize', 'MaxRecipients', 'MaxConnections', 'ConnectionTimeout', 'LimitRemoteConnections',
  'SmtpRemoteProgressiveRetry', 'SmtpRemoteDelayExpireMinutes', 'SmtpRemoteNDRExpireMinutes', 'SmtpLocalDelayExpireMinutes',
  'SmtpLocalNDRExpireMinutes', 'LocalRetryInterval', 'LocalRetryAttempts', 'PickupDirectory', 'QueueDirectory',
  'DropDirectory', 'BadMailDirectory', 'SendBadTo', 'SendNdrTo', 'SmtpDotStuffPickupDirFiles', 'RelayIpList', 'RelayForAuth',
  'IPSecurity', 'AuthFlags', 'ServerBindings', 'SecureBindings', 'RouteAction', 'RouteUserName', 'RoutePassword',
  'LogType', 'LogFileDirectory', 'LogFilePeriod', 'EnableReverseDnsLookup', 'MaxSmtpErrors', 'SmtpDisableRelay',
  'AlwaysUseSsl', 'KeyType',
]);

export function importIisServer(metabase: SmtpMetabase, options: ImportOptions = {}): ImportResult {
  const ids = [...metabase.servers.keys()].sort((a, b) => Number(a) - Number(b));
  if (ids.length === 0) throw new ImportError('no SMTP virtual server (a key at /LM/SmtpSvc/<n>) in this metabase');
  const id = options.server ?? (metabase.servers.has('1') || ids.length > 1 ? '1' : ids[0]!);
  const server = metabase.servers.get(id);
  if (!server) throw new ImportError(`no SMTP virtual server ${id}; this metabase has ${ids.map((n) => `/LM/SmtpSvc/${n}`).join(', ')}`);
  return new Importer(metabase, server, id, options).run();
}

class Importer {
  readonly #metabase: SmtpMetabase;
  readonly #server: MetabaseKey;
  readonly #id: string;
  readonly #options: ImportOptions;
  readonly #config = new Map<ConfigKey, unknown>();
  readonly #report: ReportItem[] = [];
  /** Properties whose value came from /LM/SmtpSvc rather than the server's own key. */
  readonly #inherited = new Set<string>();

  constructor(metabase: SmtpMetabase, server: MetabaseKey, id: string, options: ImportOptions) {
    this.#metabase = metabase;
    this.#server = server;
    this.#id = id;
    this.#options = options;
  }

  run(): ImportResult {
    this.#smartHost();
    this.#retryAndExpiry();
    this.#limits();
    this.#names();
    this.#folders();
    this.#bindings();
    this.#relay();
    this.#connectionControl();
    this.#authentication();
    this.#domains();
    this.#protocolLog();
    this.#notSupported();
    this.#unknown();
    this.#checkTogether();
    const config: Record<string, unknown> = {};
    for (const key of KEY_NAMES) if (this.#config.has(key)) config[key] = this.#config.get(key);
    return { server: this.#id, config, report: this.#report, needsReview: this.#report.some((item) => item.status === 'review') };
  }

  #get(name: string, id?: number, inherit = true): string | undefined {
    const resolved = resolveProperty(this.#metabase, this.#server, name, { id, inherit });
    if (resolved?.from === 'service') this.#inherited.add(name);
    return resolved?.value;
  }

  #note(property: string, iis: string | undefined, status: ReportStatus, note: string, key?: ConfigKey): void {
    const inherited = this.#inherited.has(property) ? ' (inherited from /LM/SmtpSvc)' : '';
    this.#report.push({ property, iis: (iis ?? '(absent)') + inherited, status, note, ...(key ? { key } : {}) });
  }

  /** Sets a key after checking the value parses as that key would from a file; a bad value is reported instead. */
  #set(key: ConfigKey, value: unknown, property: string, iis: string | undefined, status: ReportStatus, note: string): void {
    const parsed = keySpec(key).parse(value);
    if (!parsed.ok) {
      this.#note(property, iis, 'review', `not imported: ${key} ${parsed.reason}`, key);
      return;
    }
    this.#config.set(key, value);
    this.#note(property, iis, status, note, key);
  }

  #smartHost(): void {
    const host = this.#get('SmartHost', 36906)?.trim();
    const type = (this.#get('SmartHostType', 36905) ?? '0').trim();
    const port = this.#get('RemoteSmtpPort', 36914);
    const portNumber = port === undefined ? 25 : Number(port);
    if (!host || type === '0') {
      this.#set('smartHost', ['mx'], 'SmartHost, SmartHostType', `${host ?? '(none)'}, type ${type}`, 'review',
        'IIS delivered by DNS (MX); so does mailroot ("mx"): outbound port 25 must be open to the Internet, or set a smart host');
      return;
    }
    const literal = /^\[(.+)\]$/.exec(host);
    const hostText = literal ? (literal[1]!.includes(':') ? `[${literal[1]}]` : literal[1]!) : host;
    const hostPort = `${hostText}:${portNumber}`;
    if (type === '1') {
      this.#set('smartHost', ['mx', hostPort], 'SmartHost, SmartHostType, RemoteSmtpPort', `${host}, type 1, port ${port ?? '(absent: 25)'}`, 'mapped',
        'IIS\'s "attempt direct delivery before sending to smart host": MX first, then the smart host');
    } else {
      this.#set('smartHost', hostPort, 'SmartHost, RemoteSmtpPort', `${host} port ${port ?? '(absent: 25)'}`, 'mapped', 'the smart host');
      this.#note('SmartHostType', type, 'mapped', 'always use the smart host');
    }
    const user = this.#get('RouteUserName', 36948);
    if (user) {
      this.#set('smartHostUser', user, 'RouteUserName', user, 'mapped', 'AUTH to the smart host as this user');
      this.#note('RoutePassword', '(encrypted)', 'review', 'the metabase keeps it encrypted: set smartHostPassword (better MAILROOT_SMART_HOST_PASSWORD) or smartHostPasswordFile', 'smartHostPassword');
    }
    const ssl = this.#get('AlwaysUseSsl', undefined);
    if (ssl !== undefined && isTrue(ssl)) this.#set('smartHostTls', 'required', 'AlwaysUseSsl', ssl, 'mapped', 'TLS to the smart host is required, its certificate verified');
    const masquerade = this.#get('MasqueradeDomain', 36912)?.trim();
    const doMasquerade = this.#get('DoMasquerade', 36913);
    if (masquerade && (doMasquerade === undefined || isTrue(doMasquerade))) {
      this.#set('masqueradeDomain', masquerade, 'MasqueradeDomain', masquerade, 'mapped', 'envelope senders leave with this domain');
    } else if (masquerade) {
      this.#note('MasqueradeDomain', masquerade, 'ignored', 'DoMasquerade is off');
    }
    const timeout = this.#get('RemoteTimeout', 36921);
    if (timeout !== undefined && /^\d+$/.test(timeout) && Number(timeout) > 0 && !UNLIMITED.has(timeout)) {
      this.#set('smartHostTimeout', formatDuration(Number(timeout) * 1000), 'RemoteTimeout', timeout, 'mapped', 'seconds');
    }
  }

  #retryAndExpiry(): void {
    const progressive = this.#get('SmtpRemoteProgressiveRetry', 36996);
    if (progressive !== undefined && progressive.trim() !== '') {
      const minutes = progressive.split(',').map((part) => part.trim());
      if (minutes.every((m) => /^\d+$/.test(m) && Number(m) > 0)) {
        this.#set('retry', minutes.map((m) => formatDuration(Number(m) * 60_000)), 'SmtpRemoteProgressiveRetry', progressive, 'mapped', 'minutes; the last one repeats, as in IIS');
      } else {
        this.#note('SmtpRemoteProgressiveRetry', progressive, 'review', 'not a list of minutes: mailroot\'s default retry applies', 'retry');
      }
    }
    this.#minutes('SmtpRemoteNDRExpireMinutes', 37020, 'expire', 'expiration timeout');
    this.#minutes('SmtpRemoteDelayExpireMinutes', 37019, 'delayNotify', 'delay notification');
    for (const [name, id] of [['SmtpLocalDelayExpireMinutes', 37017], ['SmtpLocalNDRExpireMinutes', 37018], ['LocalRetryInterval', 36897], ['LocalRetryAttempts', 36896]] as const) {
      const value = this.#get(name, id);
      if (value !== undefined) this.#note(name, value, 'not-supported', 'mailroot writes local mail to Drop at once; there is no local retry');
    }
  }

  #minutes(name: string, id: number, key: ConfigKey, what: string): void {
    const value = this.#get(name, id);
    if (value === undefined) return;
    if (/^\d+$/.test(value) && Number(value) > 0) this.#set(key, formatDuration(Number(value) * 60_000), name, value, 'mapped', `${what}, minutes`);
    else this.#note(name, value, 'review', `${what}: not a number of minutes; mailroot's default applies`, key);
  }

  #limits(): void {
    const count = (name: string, id: number, key: ConfigKey, what: string, unit: 'bytes' | 'count' | 'seconds') => {
      const value = this.#get(name, id);
      if (value === undefined) return;
      if (UNLIMITED.has(value.trim()) || value.trim() === '0') {
        this.#note(name, value, 'changed', `IIS had no ${what} limit; mailroot keeps its bounded default`, key);
        return;
      }
      if (!/^\d+$/.test(value.trim())) {
        this.#note(name, value, 'review', `not a number: mailroot's default applies`, key);
        return;
      }
      const n = Number(value);
      const converted = unit === 'seconds' ? formatDuration(n * 1000) : unit === 'bytes' ? String(n) : n;
      this.#set(key, converted, name, value, 'mapped', what);
    };
    count('MaxMessageSize', 36891, 'maxMessageSize', 'message size, bytes', 'bytes');
    count('MaxSessionSize', 36892, 'maxSessionSize', 'session size, bytes', 'bytes');
    count('MaxRecipients', 36895, 'maxRecipients', 'recipients per message', 'count');
    count('ConnectionTimeout', 1013, 'idleTimeout', 'connection time-out, seconds', 'seconds');
    count('HopCount', 36886, 'maxHopCount', 'hop count', 'count');
    count('MaxOutConnections', 36894, 'concurrency', 'outbound connections', 'count');
    count('MaxOutConnectionsPerDomain', 36925, 'maxConnectionsPerDomain', 'outbound connections per domain (delivery by MX)', 'count');
    count('MaxBatchedMessages', 36871, 'maxMessagesPerConnection', 'messages per outbound connection', 'count');
    const limitInbound = this.#get('LimitRemoteConnections', 36926);
    if (limitInbound !== undefined && isTrue(limitInbound)) count('MaxConnections', 1014, 'maxConnections', 'inbound connections', 'count');
    else if (this.#get('MaxConnections', 1014) !== undefined) {
      this.#note('MaxConnections', this.#get('MaxConnections', 1014), 'changed', 'not enforced by IIS (LimitRemoteConnections is off); mailroot keeps its bounded default', 'maxConnections');
    }
  }

  #names(): void {
    const fqdn = this.#get('FullyQualifiedDomainName');
    if (fqdn?.trim()) this.#set('hostname', fqdn.trim(), 'FullyQualifiedDomainName', fqdn, 'mapped', 'greeting, EHLO and Received: name');
    const local: string[] = [];
    const defaultDomain = this.#get('DefaultDomain', 36908)?.trim();
    if (defaultDomain) local.push(defaultDomain);
    for (const { name, key } of this.#metabase.domains.get(this.#id) ?? []) {
      const action = parseDword(key.attributes.get('RouteAction') ?? key.customById.get('36946') ?? '0');
      if (action !== undefined && (action & 0x10) !== 0 && !local.includes(name)) local.push(name);
    }
    if (local.length > 0) {
      this.#set('localDomains', local, 'DefaultDomain + alias domains', local.join(', '), 'mapped', 'mail to these domains goes to Drop, as in IIS');
    }
    const ndrTo = this.#get('SendNdrTo')?.trim();
    if (ndrTo) this.#set('ndrCopyTo', [ndrTo], 'SendNdrTo', ndrTo, 'mapped', 'copy of each non-delivery report');
    const badTo = this.#get('SendBadTo', 36923)?.trim();
    if (badTo) this.#note('SendBadTo', badTo, 'not-supported', 'mailroot keeps bad mail in Badmail with a reason file; it does not mail it anywhere');
    const dotStuff = this.#get('SmtpDotStuffPickupDirFiles', 37030);
    if (dotStuff !== undefined) this.#set('pickupDotStuffed', isTrue(dotStuff), 'SmtpDotStuffPickupDirFiles', dotStuff, 'mapped', 'Pickup files are dot-stuffed');
  }

  #folders(): void {
    const root = this.#metabase.roots.get(this.#id)?.attributes.get('Path')?.trim();
    const dirs: Array<[string, number, string]> = [
      ['PickupDirectory', 36880, 'Pickup'],
      ['QueueDirectory', 36875, 'Queue'],
      ['BadMailDirectory', 36909, 'Badmail'],
      ['DropDirectory', 36882, 'Drop'],
    ];
    const found = dirs.map(([name, id, folder]) => ({ name, folder, value: this.#get(name, id)?.trim() }));
    const queue = found.find((f) => f.folder === 'Queue')?.value;
    const mailroot = root || (queue ? windowsDirname(queue) : undefined);
    if (!mailroot) {
      this.#note('Root Path, QueueDirectory', undefined, 'review', 'no mailroot folder found: set mailroot (IIS used C:\\Inetpub\\mailroot)', 'mailroot');
      return;
    }
    this.#set('mailroot', mailroot, root ? 'Root Path' : 'QueueDirectory', root || queue, 'mapped', 'the mailroot; IIS\'s folder names inside it are used as they are spelled');
    for (const { name, folder, value } of found) {
      if (value === undefined) continue;
      const same = windowsDirname(value).toLowerCase() === mailroot.toLowerCase() && path.win32.basename(value).toLowerCase() === folder.toLowerCase();
      if (same) this.#note(name, value, 'mapped', `${folder} inside the mailroot`);
      else this.#note(name, value, 'changed', `mailroot keeps ${folder} inside the mailroot (${path.win32.join(mailroot, folder)}); move its files there`);
    }
  }

  #bindings(): void {
    const raw = this.#get('ServerBindings', 1023, false);
    if (raw === undefined || raw.trim() === '') return;
    const listen: string[] = [];
    for (const binding of raw.split(/[\s]+/).filter(Boolean)) {
      const m = /^([^:]*):(\d+):(.*)$/.exec(binding);
      if (!m) {
        this.#note('ServerBindings', binding, 'review', 'not "IP:port:host": not imported', 'listen');
        continue;
      }
      const ip = m[1]!.trim();
      listen.push(ip === '' ? `0.0.0.0:${m[2]}` : ip.includes(':') ? `[${ip}]:${m[2]}` : `${ip}:${m[2]}`);
    }
    if (listen.length === 0) return;
    const all = listen.some((l) => l.startsWith('0.0.0.0:'));
    this.#set('listen', listen, 'ServerBindings', raw.trim(), all ? 'changed' : 'mapped',
      all ? 'IIS listened on every address (an empty IP); so will mailroot (0.0.0.0). Use 127.0.0.1 if only local programs send' : 'listening addresses');
    const secure = this.#get('SecureBindings', 2021, false);
    if (secure?.trim()) this.#note('SecureBindings', secure, 'not-supported', 'no implicit-TLS port; mailroot offers STARTTLS on its listeners (tlsCert/tlsKey or tlsPfx)');
  }

  #relay(): void {
    const text = this.#get('RelayIpList', 36970);
    const shown = text === undefined ? undefined : text === '' ? '"" (empty)' : abbreviate(text);
    const none = (status: ReportStatus, note: string) => this.#set('allowRelay', ['none'], 'RelayIpList', shown, status, note);
    if (text === undefined) return none('mapped', 'absent: "only the list below" with nobody on it; no address may relay (authenticated clients still may)');
    const decoded = decodeIpSecList(text);
    if (!decoded.ok) {
      return none('review', `malformed (${decoded.reason}); some Windows builds ship a damaged RelayIpList. Nothing imported: no address may relay. Re-enter the relay list as allowRelay`);
    }
    const relay = decoded.value;
    if (relay.grantNames > 0 || relay.denyNames > 0) {
      return none('review', 'the list holds DNS names (needs reverse DNS, which mailroot does not do); nothing imported: no address may relay');
    }
    if (relay.grantByDefault) {
      const what = text === '' ? 'empty, which IIS reads as "All except the list below" (the published Server 2022 MMC workaround writes this)' : '"All except the list below"';
      if (!this.#options.acceptOpenRelay) {
        return none('review', `${what}: every address may relay, an open relay. Not imported: no address may relay. Pass --accept-open-relay to carry it over`);
      }
      if (relay.deny.length > 0) {
        return none('review', `${what} except ${relay.deny.map(formatIpEntry).join(', ')}: mailroot cannot list exceptions; not imported`);
      }
      this.#set('allowRelay', ['0.0.0.0/0', '::/0'], 'RelayIpList', shown, 'review', `${what}: an open relay, carried over because of --accept-open-relay`);
      this.#config.set('allowOpenRelay', true);
      return;
    }
    if (relay.grant.length === 0) return none('mapped', '"only the list below" with nobody on it: no address may relay');
    const entries = relay.grant.map(formatIpEntry);
    this.#set('allowRelay', entries, 'RelayIpList', shown, 'mapped', `"only the list below": ${entries.join(', ')}${relay.notes.length ? ` (${relay.notes.join('; ')})` : ''}`);
  }

  #connectionControl(): void {
    const text = this.#get('IPSecurity', 6019);
    if (text === undefined) return; // IIS: no IP restrictions; mailroot's default lets everyone connect too
    const shown = text === '' ? '"" (empty)' : abbreviate(text);
    const loopback = (note: string) => this.#set('allowConnect', ['127.0.0.0/8', '::1'], 'IPSecurity', shown, 'review', `${note}. Not imported: only loopback may connect until allowConnect is set`);
    const decoded = decodeIpSecList(text);
    if (!decoded.ok) return loopback(`malformed (${decoded.reason})`);
    const connect = decoded.value;
    if (connect.grantNames > 0 || connect.denyNames > 0) return loopback('the list holds DNS names, which mailroot cannot match');
    if (connect.grantByDefault) {
      if (connect.deny.length === 0) return this.#note('IPSecurity', shown, 'mapped', 'every address may connect (mailroot\'s default)', 'allowConnect');
      return loopback(`every address except ${connect.deny.map(formatIpEntry).join(', ')}: mailroot cannot list exceptions`);
    }
    if (connect.grant.length === 0) return loopback('"only the list below" with nobody on it');
    const entries = connect.grant.map(formatIpEntry);
    this.#set('allowConnect', entries, 'IPSecurity', shown, 'mapped', `connection control: ${entries.join(', ')}`);
  }

  #authentication(): void {
    const flagsText = this.#get('AuthFlags', 6000);
    const flags = flagsText === undefined ? 1 : parseAuthFlags(flagsText);
    if (flagsText !== undefined && flags === undefined) this.#note('AuthFlags', flagsText, 'review', 'not understood');
    if (flags !== undefined && (flags & 0x2) !== 0) {
      this.#note('AuthFlags', flagsText, 'review', 'Basic authentication: mailroot has its own users; add them with "mailroot hash-password --user NAME" into authUsers (Windows passwords cannot be carried over)', 'authUsers');
    }
    if (flags !== undefined && (flags & 0x4) !== 0) this.#note('AuthFlags', flagsText, 'not-supported', 'Integrated Windows authentication (NTLM) is not offered');
    const relayForAuth = this.#get('RelayForAuth', 36973);
    if (relayForAuth !== undefined) {
      const on = relayForAuth.trim() !== '0';
      this.#note('RelayForAuth', relayForAuth, on ? 'mapped' : 'changed', on ? 'authenticated clients may relay' : 'IIS did not let authenticated clients relay; in mailroot they always may (only users in authUsers can authenticate)');
    }
  }

  #domains(): void {
    const routes: Record<string, unknown> = {};
    for (const { name, key } of this.#metabase.domains.get(this.#id) ?? []) {
      const raw = key.attributes.get('RouteAction') ?? key.customById.get('36946');
      const action = parseDword(raw ?? '0') ?? 0;
      if ((action & 0x10) !== 0) continue; // alias: mapped with localDomains
      const iis = raw === undefined ? '(no RouteAction)' : `RouteAction=${raw}`;
      const target = (key.attributes.get('RouteActionString') ?? key.customById.get('36947'))?.trim();
      const notes: string[] = [];
      if (action & 0x2 && target) {
        const literal = /^\[(.+)\]$/.exec(target);
        const host = literal ? (literal[1]!.includes(':') ? `[${literal[1]}]` : literal[1]!) : target;
        routes[name] = action & 0x4 ? { host: `${host}:25`, tls: 'required' } : `${host}:25`;
        this.#note(`Domain ${name}`, iis, 'mapped', `remote domain: forwarded to ${target}${action & 0x4 ? ' over verified TLS' : ''} (routes)`, 'routes');
      } else if (action & 0x4) {
        notes.push('TLS required to it (mailroot sets TLS per host, not per domain delivered by MX)');
      }
      if (action & 0x1000) notes.push('relay to this domain allowed from anyone (mailroot allows relaying by client address only: narrower)');
      if (action & 0x180 || key.attributes.has('RouteUserName')) notes.push('outbound authentication (its password is encrypted in the metabase: set "auth" on the route\'s host)');
      if (action & 0x200) notes.push('queued for ETRN/TURN');
      const known = 0x2 | 0x1000 | 0x4 | 0x180 | 0x200 | 0x10 | 0x40;
      if (action & ~known) notes.push(`other RouteAction bits 0x${(action & ~known).toString(16)}`);
      if (notes.length > 0) this.#note(`Domain ${name}`, iis, 'not-supported', `remote domain: ${notes.join('; ')}`);
    }
    if (Object.keys(routes).length > 0) this.#set('routes', routes, 'remote domains', `${Object.keys(routes).length}`, 'mapped', 'per-domain routes');
  }

  #protocolLog(): void {
    const type = this.#get('LogType', 4000);
    if (type === undefined) return;
    const on = type.trim() === '1';
    this.#set('protocolLog', on, 'LogType', type, 'mapped', on ? 'the W3C protocol log is written' : 'no protocol log');
    if (!on) return;
    const dir = this.#get('LogFileDirectory', 4001)?.trim();
    if (dir) {
      const full = path.win32.join(dir, `SMTPSVC${this.#id}`);
      this.#set('protocolLogDir', full, 'LogFileDirectory', dir, 'mapped', `IIS wrote into ${full}; so does mailroot (exYYMMDD.log)`);
    }
    const period = this.#get('LogFilePeriod', 4003);
    if (period !== undefined && period.trim() !== '1') this.#note('LogFilePeriod', period, 'changed', 'mailroot starts a new protocol log file every day (UTC)');
  }

  #notSupported(): void {
    const simple: Array<[string, number | undefined, string]> = [
      ['EnableReverseDnsLookup', undefined, 'no reverse DNS lookups'],
      ['MaxSmtpErrors', 36887, 'clients are bounded by idleTimeout and the command limits instead'],
      ['SmtpDisableRelay', 36974, 'relaying is decided by allowRelay and authentication'],
    ];
    for (const [name, id, note] of simple) {
      const value = this.#get(name, id);
      if (value !== undefined) this.#note(name, value, 'not-supported', note);
    }
  }

  #unknown(): void {
    const keys = [this.#server, ...(this.#metabase.service ? [this.#metabase.service] : [])];
    const seen = new Set<string>();
    for (const key of keys) {
      const where = key === this.#server ? '' : ' (on /LM/SmtpSvc)';
      for (const [name, value] of [...key.attributes, ...key.customByName]) {
        if (KNOWN.has(name) || seen.has(name)) continue;
        seen.add(name);
        this.#note(name + where, abbreviate(value), 'ignored', 'not a setting mailroot has');
      }
    }
  }

  /** The keys together must pass the same rules a config file does (e.g. no open relay on a public listener). */
  #checkTogether(): void {
    const full: Record<string, unknown> = {};
    for (const key of KEY_NAMES) {
      const spec = keySpec(key);
      const raw = this.#config.get(key);
      if (raw !== undefined) full[key] = (spec.parse(raw) as { value: unknown }).value;
      else if (spec.default) full[key] = spec.default();
    }
    if (full.smartHost === undefined) full.smartHost = { host: 'placeholder', port: 25 };
    try {
      checkConfig(full as unknown as Config);
    } catch (err) {
      this.#note('(combined)', '', 'review', (err as Error).message);
    }
  }
}

function isTrue(value: string): boolean {
  return ['true', '1', '-1', '4294967295', 'yes'].includes(value.trim().toLowerCase());
}

function parseDword(text: string): number | undefined {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t) >>> 0;
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t, 16) >>> 0;
  return undefined;
}

const AUTH_FLAG_NAMES: Record<string, number> = { authanonymous: 0x1, authbasic: 0x2, authntlm: 0x4, authmd5: 0x10, authpassport: 0x40 };

/** AuthFlags as IIS writes it: "AuthBasic | AuthAnonymous" or a number. */
function parseAuthFlags(text: string): number | undefined {
  const numeric = parseDword(text);
  if (numeric !== undefined) return numeric;
  let flags = 0;
  for (const part of text.split('|').map((p) => p.trim().toLowerCase()).filter(Boolean)) {
    const bit = AUTH_FLAG_NAMES[part];
    if (bit === undefined) return undefined;
    flags |= bit;
  }
  return flags;
}

function windowsDirname(p: string): string {
  return path.win32.dirname(p.replace(/[\\/]+$/, ''));
}

function abbreviate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 48)}...${text.slice(-24)} (${text.length} characters)` : text;
}
