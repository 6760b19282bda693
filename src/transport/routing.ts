// The transport delivery talks to: each recipient's route (route-table.ts) names an ordered list of smart
// hosts; a message goes to the first of them that is up (host-health.ts), failing over to the next when one
// cannot be reached, answers 421 or refuses the relay's login. Only when every host of the route failed is the
// result "host down" (scope 'host'); each result reports what it learned about each route (`routes`), from
// which the scheduler probes a route that is down and holds its mail, while mail for other routes flows. While
// every host of a route is down, an ordinary attempt connects nowhere (state `untried`): only the scheduler's
// probe of the route (`probe`) tries them, so a host that hangs holds up that one probe, never the mail.
import type { Readable } from 'node:stream';
import type { Route, SmartHostSpec } from '../config/smart-hosts.js';
import { hostLabel } from '../config/smart-hosts.js';
import type { Logger } from '../log/logger.js';
import type { ProtocolLog } from '../ops/protocol-log.js';
import type { Envelope } from '../spool/eml-format.js';
import { authenticator } from './host-auth.js';
import { HostHealth, type HostState } from './host-health.js';
import { TokenProviders } from './oauth2-token.js';
import { MxResolver } from './mx-resolver.js';
import { RouteTable } from './route-table.js';
import { SmartHostTransport } from './smart-host.js';
import type { DeliverOptions, DeliveryResult, RouteReport, Transport } from './transport.js';

export interface RoutingOptions {
  smartHosts: SmartHostSpec[];
  routes: Route[];
  /** EHLO name. */
  hostname: string;
  timeout: number;
  /** For the TCP connect and the greeting: a host that hangs there fails over after this, not after `timeout`. */
  connectTimeout?: number;
  /** How long a failed host is skipped while another host of its route works. */
  downTime: number;
  /** For "mx" entries: DNS servers ("ip:port"; empty for the system's) and the exchangers' port. */
  dnsServers?: string[];
  outboundPort?: number;
  /** Per connection, unless a host sets its own. */
  maxMessagesPerConnection?: number;
  /** Messages at once to one domain's exchangers (delivery by MX). */
  maxConnectionsPerDomain?: number;
  /** Envelope senders leave with this domain (IIS masquerade domain). */
  masqueradeDomain?: string | undefined;
  log: Logger;
  /** The IIS-format protocol log, when it is on (see SmartHostOptions). */
  protocolLog?: ProtocolLog | undefined;
  /** Epoch ms; tests inject a clock. */
  now?: () => number;
}

type Sent = Extract<DeliveryResult, { kind: 'sent' }>;
type NotSent = Extract<DeliveryResult, { kind: 'not-sent' }>;

/** The name of the default route (smartHost) in results, host states and the status file. */
export const DEFAULT_ROUTE = 'default';

export class RoutingTransport implements Transport {
  readonly #table: RouteTable;
  readonly #health: HostHealth;
  readonly #senders = new Map<SmartHostSpec, SmartHostTransport>();
  /** The OAuth2 accounts' tokens, shared by every connection (alert mail uses them too). */
  readonly tokens: TokenProviders;
  readonly #defaultHosts: SmartHostSpec[];
  readonly #mx: MxResolver;
  readonly #outboundPort: number;
  /** Senders for mail exchangers, made when first needed; the oldest is closed past MAX_MX_SENDERS. */
  readonly #mxSenders = new Map<string, { spec: SmartHostSpec; sender: SmartHostTransport }>();
  readonly #sendOptions: { hostname: string; timeout: number; connectTimeout: number | undefined; log: Logger; maxMessagesPerConnection: number; protocolLog: ProtocolLog | undefined };
  readonly #domainSlots: DomainSlots;
  readonly #masquerade: string | undefined;
  /** Half-open probes of failed hosts, made without a message (see #check). */
  readonly #checks = new Set<Promise<void>>();
  /** Each route's host list (as the route table hands it out) to the route's name. */
  readonly #routeNames = new Map<SmartHostSpec[], string>();

  constructor(options: RoutingOptions) {
    const { smartHosts, routes, hostname, timeout, connectTimeout, log, now, protocolLog } = options;
    this.#defaultHosts = smartHosts;
    this.#table = new RouteTable(smartHosts, routes);
    this.#routeNames.set(smartHosts, DEFAULT_ROUTE);
    for (const route of routes) this.#routeNames.set(route.hosts, route.domain);
    this.#health = new HostHealth({ downTime: options.downTime, log, ...(now ? { now } : {}) });
    this.tokens = new TokenProviders(now);
    this.#mx = new MxResolver({ servers: options.dnsServers ?? [], timeout: Math.min(timeout, 10_000) });
    this.#outboundPort = options.outboundPort ?? 25;
    const maxMessagesPerConnection = options.maxMessagesPerConnection ?? 100;
    this.#sendOptions = { hostname, timeout, connectTimeout, log, maxMessagesPerConnection, protocolLog };
    this.#domainSlots = new DomainSlots(options.maxConnectionsPerDomain ?? 100);
    this.#masquerade = options.masqueradeDomain;
    for (const spec of [...smartHosts, ...routes.flatMap((route) => route.hosts)]) {
      if (spec.mx) continue;
      const authenticate = spec.auth ? authenticator(spec.auth, (auth) => this.tokens.for(auth)) : undefined;
      this.#senders.set(
        spec,
        new SmartHostTransport({ smartHost: spec, authenticate, hostname, timeout, connectTimeout, log, protocolLog, maxMessagesPerConnection: spec.maxMessagesPerConnection ?? maxMessagesPerConnection }),
      );
    }
  }

  get description(): string {
    return this.#defaultHosts.map((spec) => (spec.mx ? 'MX' : hostLabel(spec))).join(', ');
  }

  /** Each route by name, with its hosts as the log and host states name them: for operators. */
  routeDescriptions(): Map<string, string> {
    const described = new Map<string, string>();
    for (const [hosts, name] of this.#routeNames) described.set(name, hosts.map((spec) => (spec.mx ? 'MX' : labelOf(spec))).join(', '));
    return described;
  }

  /**
   * Whether the default route's first smart host offered an extension (e.g. 8BITMIME) when last connected;
   * undefined when not known (not connected yet, or delivery by MX).
   */
  offers(extension: string): boolean | undefined {
    const first = this.#defaultHosts[0];
    return first && !first.mx ? this.#senders.get(first)?.offers(extension) : undefined;
  }

  /** Each host's condition (up, down and why, probing), for operators and tests. */
  hostStates(): HostState[] {
    return this.#health.states();
  }

  /** Token requests made so far, per account (tests, operators). */
  get tokenRequests(): number {
    return this.tokens.requests;
  }

  async deliver(original: Envelope, openBody: () => Readable, options: DeliverOptions = {}): Promise<DeliveryResult> {
    const envelope = this.#masquerade && original.sender.includes('@')
      ? { ...original, sender: `${original.sender.slice(0, original.sender.lastIndexOf('@'))}@${this.#masquerade}` }
      : original;
    const groups = this.#table.split(envelope.recipients).flatMap((group) => (group.hosts.some((h) => h.mx) ? byDomain(group) : [group]));
    const probing = (hosts: SmartHostSpec[]) => options.probe !== undefined && (this.#routeNames.get(hosts) ?? DEFAULT_ROUTE) === options.probe;
    if (groups.length === 1) return this.#deliverVia(groups[0]!.hosts, envelope, openBody, probing(groups[0]!.hosts));
    const results: Array<{ recipients: string[]; result: DeliveryResult }> = [];
    for (const group of groups) {
      results.push({ recipients: group.recipients, result: await this.#deliverVia(group.hosts, { sender: envelope.sender, recipients: group.recipients }, openBody, probing(group.hosts)) });
    }
    return mergeResults(results);
  }

  async #deliverVia(routeHosts: SmartHostSpec[], envelope: Envelope, openBody: () => Readable, probe: boolean): Promise<DeliveryResult> {
    if (!routeHosts.some((spec) => spec.mx)) {
      const route = this.#routeNames.get(routeHosts) ?? DEFAULT_ROUTE;
      const { untried, busy, ...result } = await this.#deliverToHosts(routeHosts, envelope, openBody, probe);
      const report = reportOf(route, result, untried === true, busy === true);
      return report ? { ...result, routes: [report] } : result;
    }
    const domain = envelope.recipients[0]!.slice(envelope.recipients[0]!.lastIndexOf('@') + 1).toLowerCase();
    const release = await this.#domainSlots.take(domain);
    try {
      return await this.#deliverToHosts(routeHosts, envelope, openBody, probe);
    } finally {
      release();
    }
  }

  async #deliverToHosts(routeHosts: SmartHostSpec[], envelope: Envelope, openBody: () => Readable, probe: boolean): Promise<DeliveryResult & { untried?: boolean; busy?: boolean }> {
    const failures: Array<NotSent & { host: string }> = [];
    const direct = routeHosts.some((spec) => spec.mx);
    const hosts: SmartHostSpec[] = [];
    for (const spec of routeHosts) {
      if (!spec.mx) {
        hosts.push(spec);
        continue;
      }
      const domain = envelope.recipients[0]!.slice(envelope.recipients[0]!.lastIndexOf('@') + 1);
      const answer = await this.#mx.lookup(domain);
      if (answer.kind === 'targets') {
        hosts.push(...answer.targets.map((t) => this.#mxSender(t.name, t.address).spec));
      } else if (answer.permanent && routeHosts.length === 1) {
        return { kind: 'not-sent', scope: 'message', permanent: true, reply: answer.reply };
      } else {
        failures.push({ kind: 'not-sent', scope: 'host', permanent: false, reply: answer.reply, host: `MX of ${domain}` });
      }
    }
    const tryHost = async (spec: SmartHostSpec): Promise<DeliveryResult | undefined> => {
      const host = labelOf(spec);
      const sender = this.#senders.get(spec) ?? this.#mxSenders.get(host)!.sender;
      let result: DeliveryResult;
      try {
        result = await sender.deliver(envelope, openBody);
      } catch (err) {
        this.#health.unclaim(host); // a local error (the body could not be read) says nothing about the host
        throw err;
      }
      if (result.kind === 'not-sent' && result.scope === 'host') {
        // Lost after the final dot: this host may have the message, so no other host gets it now. The host took
        // the whole transaction, so it is not marked down for that: its next message finds out how it is.
        if (result.maybeDelivered) {
          this.#health.unclaim(host);
          return { ...result, host };
        }
        this.#health.failed(host, result.reply, result.problem);
        failures.push({ ...result, host });
        return undefined;
      }
      this.#health.succeeded(host);
      return { ...result, host };
    };
    if (!probe && !direct && hosts.length > 0 && hosts.every((spec) => this.#health.isDown(labelOf(spec)))) {
      // Every host of the route is down: the scheduler probes the route (one message at a time). Nothing is
      // connected here, so a host that hangs holds up only that probe, never the mail behind it.
      return this.#untried(hosts);
    }
    const skipped: SmartHostSpec[] = [];
    for (const spec of hosts) {
      const label = labelOf(spec);
      const halfOpen = this.#health.isDown(label);
      if (!this.#health.claim(label)) {
        skipped.push(spec);
        continue;
      }
      if (halfOpen && !probe && hosts.some((other) => other !== spec && !this.#health.isDown(labelOf(other)))) {
        // Its time to be tried again, while another host of the route is up: a connection without a message
        // finds out, so that a host that hangs until the timeout keeps no message (and no slot) waiting.
        this.#check(spec, label);
        skipped.push(spec);
        continue;
      }
      const result = await tryHost(spec);
      if (result) return result;
    }
    if (skipped.length === hosts.length && hosts.length > 0) {
      // The scheduler's probe of the route (or mail by MX): it tries them all, in order.
      for (const spec of skipped) {
        const result = await tryHost(spec);
        if (result) return result;
      }
    }
    const reply = failures.length === 1 && hosts.length === 1 ? failures[0]!.reply : failures.map((f) => `${f.host}: ${f.reply}`).join('; ');
    const problem = failures.find((f) => f.problem)?.problem;
    const host = failures.at(-1)?.host;
    // One domain's exchangers being unreachable says nothing about other mail: this message waits its turn.
    // Every host answered (421) or refused us for the operator to fix (credentials, certificate): no use asking
    // again every probeInterval.
    const busy = failures.length > 0 && failures.every((f) => f.problem !== undefined || /^\d{3}[ -]/.test(f.reply));
    return { kind: 'not-sent', scope: direct ? 'message' : 'host', permanent: false, reply, busy, ...(problem ? { problem } : {}), ...(host ? { host } : {}) };
  }

  /** A failed host's half-open probe without a message: up again once a connection is ready for mail. */
  #check(spec: SmartHostSpec, label: string): void {
    const sender = this.#senders.get(spec) ?? this.#mxSenders.get(label)?.sender;
    if (!sender) return;
    const checking = sender.check().then((result) => {
      if (!result) this.#health.succeeded(label);
      else if (result.kind === 'not-sent' && result.scope === 'host') this.#health.failed(label, result.reply, result.problem);
      else this.#health.succeeded(label); // it answered: a refusal of a message, not of service
    });
    this.#checks.add(checking);
    void checking.finally(() => this.#checks.delete(checking));
  }

  /** The result of an attempt that tried no host: what each host last failed with, as a failed attempt says it. */
  #untried(hosts: SmartHostSpec[]): NotSent & { untried: true } {
    const states = new Map(this.#health.states().map((state) => [state.host, state]));
    const failed = hosts.map((spec) => ({ host: labelOf(spec), state: states.get(labelOf(spec)) }));
    const reply = failed.length === 1 ? (failed[0]!.state?.reason ?? 'down') : failed.map((f) => `${f.host}: ${f.state?.reason ?? 'down'}`).join('; ');
    const problem = failed.find((f) => f.state?.problem)?.state?.problem;
    return { kind: 'not-sent', scope: 'host', permanent: false, reply, untried: true, host: failed.at(-1)!.host, ...(problem ? { problem } : {}) };
  }

  /** The sender for one mail exchanger address, made on first use (opportunistic TLS, name for SNI). */
  #mxSender(name: string, address: string): { spec: SmartHostSpec; sender: SmartHostTransport } {
    const spec: SmartHostSpec = { host: address, port: this.#outboundPort, tls: 'opportunistic', servername: name };
    const label = labelOf(spec);
    let entry = this.#mxSenders.get(label);
    if (!entry) {
      entry = { spec, sender: new SmartHostTransport({ smartHost: spec, ...this.#sendOptions }) };
      this.#mxSenders.set(label, entry);
      if (this.#mxSenders.size > MAX_MX_SENDERS) {
        const [oldest, old] = this.#mxSenders.entries().next().value!;
        this.#mxSenders.delete(oldest);
        void old.sender.close();
      }
    }
    return entry;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#senders.values(), ...[...this.#mxSenders.values()].map((e) => e.sender)].map((sender) => sender.close()));
    await Promise.allSettled([...this.#checks]); // closing cut the connections they were opening
  }
}

const MAX_MX_SENDERS = 200;

/** At most `limit` deliveries at once per domain; the others wait their turn in order. */
class DomainSlots {
  readonly #limit: number;
  readonly #domains = new Map<string, { busy: number; waiting: Array<() => void> }>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  async take(domain: string): Promise<() => void> {
    let entry = this.#domains.get(domain);
    if (!entry) {
      entry = { busy: 0, waiting: [] };
      this.#domains.set(domain, entry);
    }
    const slot = entry;
    if (slot.busy >= this.#limit) await new Promise<void>((resolve) => slot.waiting.push(resolve));
    else slot.busy++;
    return () => {
      const next = slot.waiting.shift();
      if (next) return next(); // the slot passes straight to the next waiter
      slot.busy--;
      if (slot.busy === 0) this.#domains.delete(domain);
    };
  }
}

/** How a host is named in the log and in host states: "smtp.example:587", "mx1.example.net[192.0.2.1]:25". */
function labelOf(spec: SmartHostSpec): string {
  return spec.servername !== undefined && spec.servername !== spec.host ? `${spec.servername}[${spec.host}]:${spec.port}` : hostLabel(spec);
}

function byDomain(group: { hosts: SmartHostSpec[]; recipients: string[] }): Array<{ hosts: SmartHostSpec[]; recipients: string[] }> {
  const domains = new Map<string, string[]>();
  for (const recipient of group.recipients) {
    const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
    const list = domains.get(domain);
    if (list) list.push(recipient);
    else domains.set(domain, [recipient]);
  }
  return [...domains.values()].map((recipients) => ({ hosts: group.hosts, recipients }));
}

/** What an attempt learned about its route; nothing after a connection lost after the final dot. */
function reportOf(route: string, result: DeliveryResult, untried: boolean, busy: boolean): RouteReport | undefined {
  if (result.kind === 'sent' || result.scope === 'message') return { route, state: 'up' };
  if (result.maybeDelivered) return undefined;
  return { route, state: untried ? 'untried' : 'down', reply: result.reply, ...(busy ? { busy } : {}) };
}

/**
 * Results of a message's routes, as one, reporting every route. Every route down is "host down". Otherwise it
 * is per recipient: those of a route that is down are deferred like a 4xx recipient (the scheduler also holds
 * the message for that route, see Scheduler); `host` names the first host that answered.
 */
function mergeResults(results: Array<{ recipients: string[]; result: DeliveryResult }>): DeliveryResult {
  // A route that may have the message already (lost after the final dot): no other route may hold it, or it
  // would be that route's probe, and released when it is back, long before its retry time.
  const mayHaveIt = results.some((r) => r.result.kind === 'not-sent' && r.result.maybeDelivered);
  const routes = results.flatMap((r) => r.result.routes ?? []).filter((report) => !mayHaveIt || report.state === 'up');
  const hostDown = results.filter((r) => r.result.kind === 'not-sent' && r.result.scope === 'host');
  if (hostDown.length === results.length) {
    const lost = hostDown.find((r) => r.result.kind === 'not-sent' && r.result.maybeDelivered);
    return { ...(lost ?? hostDown[0]!).result, routes };
  }
  const total: Sent = { kind: 'sent', reply: '', accepted: [], deferred: [], failed: [], routes };
  for (const { recipients, result } of results) {
    const answered = result.kind === 'sent' || result.scope === 'message';
    if (answered && total.host === undefined && result.host !== undefined) total.host = result.host;
    if (result.kind === 'sent') {
      total.reply ||= result.reply;
      total.accepted.push(...result.accepted);
      total.deferred.push(...result.deferred);
      total.failed.push(...result.failed);
      continue;
    }
    const entries = recipients.map((recipient) => ({ recipient, reply: result.reply }));
    (result.permanent ? total.failed : total.deferred).push(...entries);
  }
  total.reply ||= total.failed[0]?.reply ?? total.deferred[0]?.reply ?? '';
  return total;
}
