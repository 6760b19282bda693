// The transport delivery talks to: each recipient's route (route-table.ts) names an ordered list of smart
// hosts; a message goes to the first of them that is up (host-health.ts), failing over to the next when one
// cannot be reached, answers 421 or refuses the relay's login. Only when every host of the route failed is the
// result "host down" (scope 'host'), which makes the scheduler hold the queue and probe.
//
// Later: the scheduler's single "host down" should become per route, so that one route's outage does not hold
// mail for the others (see the report of issue #13).
import type { Readable } from 'node:stream';
import type { HostAuth, Route, SmartHostSpec } from '../config/smart-hosts.js';
import { hostLabel } from '../config/smart-hosts.js';
import type { Logger } from '../log/logger.js';
import type { Envelope } from '../spool/eml-format.js';
import { authenticator } from './host-auth.js';
import { HostHealth, type HostState } from './host-health.js';
import { OAuth2TokenProvider } from './oauth2-token.js';
import { RouteTable } from './route-table.js';
import { SmartHostTransport } from './smart-host.js';
import type { DeliveryResult, Transport } from './transport.js';

export interface RoutingOptions {
  smartHosts: SmartHostSpec[];
  routes: Route[];
  /** EHLO name. */
  hostname: string;
  timeout: number;
  /** How long a failed host is skipped while another host of its route works. */
  downTime: number;
  log: Logger;
  /** Epoch ms; tests inject a clock. */
  now?: () => number;
}

type Sent = Extract<DeliveryResult, { kind: 'sent' }>;

export class RoutingTransport implements Transport {
  readonly #table: RouteTable;
  readonly #health: HostHealth;
  readonly #senders = new Map<SmartHostSpec, SmartHostTransport>();
  readonly #tokens = new Map<string, OAuth2TokenProvider>();
  readonly #defaultHosts: SmartHostSpec[];

  constructor(options: RoutingOptions) {
    const { smartHosts, routes, hostname, timeout, log, now } = options;
    this.#defaultHosts = smartHosts;
    this.#table = new RouteTable(smartHosts, routes);
    this.#health = new HostHealth({ downTime: options.downTime, log, ...(now ? { now } : {}) });
    for (const spec of [...smartHosts, ...routes.flatMap((route) => route.hosts)]) {
      const authenticate = spec.auth ? authenticator(spec.auth, (auth) => this.#tokenProvider(auth, now)) : undefined;
      this.#senders.set(spec, new SmartHostTransport({ smartHost: spec, authenticate, hostname, timeout, log }));
    }
  }

  /** One provider per account, so every connection (to any host) shares its token. */
  #tokenProvider(auth: HostAuth, now: (() => number) | undefined): OAuth2TokenProvider {
    if (auth.type !== 'xoauth2') throw new Error('not an OAuth2 account');
    const key = JSON.stringify([auth.provider, auth.tokenUrl, auth.clientId, auth.scope, auth.user]);
    let provider = this.#tokens.get(key);
    if (!provider) {
      provider = new OAuth2TokenProvider({ auth, ...(now ? { now } : {}) });
      this.#tokens.set(key, provider);
    }
    return provider;
  }

  get description(): string {
    return this.#defaultHosts.map(hostLabel).join(', ');
  }

  /** Each host's condition (up, down and why, probing), for operators and tests. */
  hostStates(): HostState[] {
    return this.#health.states();
  }

  /** Token requests made so far, per account (tests, operators). */
  get tokenRequests(): number {
    let total = 0;
    for (const provider of this.#tokens.values()) total += provider.requests;
    return total;
  }

  async deliver(envelope: Envelope, openBody: () => Readable): Promise<DeliveryResult> {
    const groups = this.#table.split(envelope.recipients);
    if (groups.length === 1) return this.#deliverVia(groups[0]!.hosts, envelope, openBody);
    const results: Array<{ recipients: string[]; result: DeliveryResult }> = [];
    for (const group of groups) {
      results.push({ recipients: group.recipients, result: await this.#deliverVia(group.hosts, { sender: envelope.sender, recipients: group.recipients }, openBody) });
    }
    return mergeResults(results);
  }

  async #deliverVia(hosts: SmartHostSpec[], envelope: Envelope, openBody: () => Readable): Promise<DeliveryResult> {
    const failures: Array<Extract<DeliveryResult, { kind: 'not-sent' }> & { host: string }> = [];
    const tryHost = async (spec: SmartHostSpec): Promise<DeliveryResult | undefined> => {
      const host = hostLabel(spec);
      const result = await this.#senders.get(spec)!.deliver(envelope, openBody);
      if (result.kind === 'not-sent' && result.scope === 'host') {
        this.#health.failed(host, result.reply, result.problem);
        failures.push({ ...result, host });
        return undefined;
      }
      this.#health.succeeded(host);
      return result;
    };
    const skipped: SmartHostSpec[] = [];
    for (const spec of hosts) {
      if (!this.#health.claim(hostLabel(spec))) {
        skipped.push(spec);
        continue;
      }
      const result = await tryHost(spec);
      if (result) return result;
    }
    // Every host was down and none due for its probe: the scheduler is probing on its own schedule (one
    // message at a time), so this attempt tries them all, in order.
    if (skipped.length === hosts.length) {
      for (const spec of skipped) {
        const result = await tryHost(spec);
        if (result) return result;
      }
    }
    const reply = failures.length === 1 && hosts.length === 1 ? failures[0]!.reply : failures.map((f) => `${f.host}: ${f.reply}`).join('; ');
    const problem = failures.find((f) => f.problem)?.problem;
    return { kind: 'not-sent', scope: 'host', permanent: false, reply, ...(problem ? { problem } : {}) };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#senders.values()].map((sender) => sender.close()));
  }
}

/** Results of a message's routes, as one: every route's host down is "host down"; otherwise per recipient. */
function mergeResults(results: Array<{ recipients: string[]; result: DeliveryResult }>): DeliveryResult {
  const hostDown = results.filter((r) => r.result.kind === 'not-sent' && r.result.scope === 'host');
  if (hostDown.length === results.length) return hostDown[0]!.result;
  const total: Sent = { kind: 'sent', reply: '', accepted: [], deferred: [], failed: [] };
  for (const { recipients, result } of results) {
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
