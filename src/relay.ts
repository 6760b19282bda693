// Wires the parts together: spool <- smtp (receive) and pickup (files), spool -> delivery (watch, schedule,
// attempt) -> transport.
import path from 'node:path';
import type { Config } from './config/schema.js';
import type { Logger } from './log/logger.js';
import { MailEvents } from './log/mail-events.js';
import { Pickup } from './pickup/pickup.js';
import { InboundServer, type BoundAddress } from './smtp/server.js';
import { Spool } from './spool/spool.js';
import { DeliveryAgent } from './delivery/agent.js';
import { systemClock, type Clock } from './delivery/clock.js';
import { Bouncer } from './delivery/bouncer.js';
import { QueueWatcher } from './delivery/queue-watcher.js';
import { Scheduler } from './delivery/scheduler.js';
import { RoutingTransport } from './transport/routing.js';
import type { HostState } from './transport/host-health.js';
import { StatusReporter } from './ops/status-reporter.js';
import { ProtocolLog } from './ops/protocol-log.js';
import { Alerts } from './ops/alerts.js';

/** A route whose hosts answer 421 (or fail for the operator's reason), and local errors, are retried at the first retry interval, at most this long. */
const SLOW_RETRY_CAP = 60_000;

export interface RelayStartOptions {
  /** The clock delivery schedules by (retry and probe times); tests pass one they can move forward. */
  clock?: Clock;
}

export class Relay {
  readonly config: Readonly<Config>;
  readonly spool: Spool;
  readonly scheduler: Scheduler;
  readonly pickup: Pickup;
  readonly #inbound: InboundServer;
  readonly #watcher: QueueWatcher;
  readonly #transport: RoutingTransport;
  readonly #log: Logger;
  readonly #status: StatusReporter;
  readonly #protocolLog: ProtocolLog | undefined;
  /** Operator alerts; the Windows service adds its Event Log writer with alerts.onAlert(). */
  readonly alerts: Alerts;

  private constructor(config: Readonly<Config>, log: Logger, spool: Spool, clock: Clock) {
    this.config = config;
    this.#log = log;
    this.spool = spool;
    const events = new MailEvents(log);
    this.#protocolLog = config.protocolLog
      ? new ProtocolLog({ dir: config.protocolLogDir ?? path.join(config.mailroot, '..', 'LogFiles'), computerName: config.hostname })
      : undefined;
    if (this.#protocolLog) this.#protocolLog.onError = (err) => log.error('cannot write the protocol log', { error: err.message });
    this.#transport = new RoutingTransport({
      protocolLog: this.#protocolLog,
      smartHosts: config.smartHost,
      routes: config.routes,
      hostname: config.hostname,
      timeout: config.smartHostTimeout,
      // A host that accepts and never greets would otherwise hold a delivery slot for smartHostTimeout (10 minutes).
      connectTimeout: Math.min(config.smartHostConnectTimeout, config.smartHostTimeout),
      downTime: config.hostDownTime,
      dnsServers: config.dnsServers.map((server) => (server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`)),
      outboundPort: config.outboundPort,
      maxMessagesPerConnection: config.maxMessagesPerConnection,
      maxConnectionsPerDomain: config.maxConnectionsPerDomain,
      masqueradeDomain: config.masqueradeDomain,
      log,
    });
    const bouncer = new Bouncer({
      spool,
      hostname: config.hostname,
      copyTo: config.ndrCopyTo,
      limitPerHour: config.ndrLimitPerHour,
      log,
      eightBitAccepted: () => this.#transport.offers('8BITMIME') !== false,
    });
    const routeDescriptions = this.#transport.routeDescriptions();
    const agent = new DeliveryAgent({
      spool,
      transport: this.#transport,
      policy: config,
      events,
      bouncer,
      maxHopCount: config.maxHopCount,
      delayNotify: config.delayNotify,
      log,
      now: () => new Date(clock.now()),
    });
    this.scheduler = new Scheduler({
      agent,
      concurrency: config.concurrency,
      probeInterval: config.probeInterval,
      slowRetry: Math.min(config.retry[0]!, SLOW_RETRY_CAP),
      describeRoute: (route) => describeRoute(route, routeDescriptions),
      log,
      events,
      clock,
    });
    this.#watcher = new QueueWatcher({ spool, scheduler: this.scheduler, rescanInterval: config.rescanInterval, log });
    this.pickup = new Pickup({
      spool,
      hostname: config.hostname,
      maxMessageSize: config.maxMessageSize,
      dotStuffed: config.pickupDotStuffed,
      maxRecipients: config.pickupMaxRecipients,
      settleTime: config.pickupSettleTime,
      rescanInterval: config.rescanInterval,
      log,
      events,
    });
    this.#inbound = new InboundServer({ config, spool, log, events, protocolLog: this.#protocolLog });
    this.#status = new StatusReporter({
      root: spool.layout.root,
      hostname: config.hostname,
      smartHost: this.#transport.description,
      listening: () => this.#inbound.bound.map((b) => (b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`)),
      inFlight: () => this.scheduler.inFlightNames(),
      queueKnown: () => this.scheduler.size,
      hostStates: () => this.#transport.hostStates(),
      routeStates: () => this.scheduler.routeStates(),
      log,
    });
    events.observe(this.#status);
    this.alerts = new Alerts({
      smartHostDown: config.alertSmartHostDown,
      queueAge: config.alertQueueAge,
      badmail: config.alertBadmail,
      mailTo: config.alertMailTo,
      mailVia: config.alertMailVia,
      webhook: config.alertWebhook,
      interval: config.alertInterval,
      hostname: config.hostname,
      smartHosts: config.smartHost.filter((spec) => !spec.mx),
      tokens: this.#transport.tokens,
      queueDir: spool.layout.queue,
      log,
    });
    events.observe(this.alerts);
  }

  /** Opens the mailroot, starts listening, then starts delivery; the queue scan runs in the background. */
  static async start(config: Readonly<Config>, log: Logger, options: RelayStartOptions = {}): Promise<Relay> {
    const spool = await Spool.open(config.mailroot);
    const relay = new Relay(config, log, spool, options.clock ?? systemClock);
    try {
      await relay.#inbound.start();
    } catch (err) {
      await spool.close();
      throw err;
    }
    relay.#watcher.start();
    relay.pickup.start();
    relay.#status.start();
    relay.alerts.start();
    log.info('relay started', { mailroot: config.mailroot, smartHost: relay.#transport.description });
    return relay;
  }

  get listening(): BoundAddress[] {
    return this.#inbound.bound;
  }

  /** Each smart host's condition: up, or down since when and why (a refused login, a certificate, 421, ...). */
  hostStates(): HostState[] {
    return this.#transport.hostStates();
  }

  /** Tells delivery to list Queue now (tests and operators' "retry now"). */
  rescan(): Promise<void> {
    return this.#watcher.rescan();
  }

  /** Stop accepting (SMTP and Pickup), let in-flight deliveries finish (or leave them queued), release the mailroot. */
  async stop(grace = 10_000): Promise<void> {
    await this.#inbound.stop();
    await this.pickup.stop();
    await this.#watcher.stop();
    await this.scheduler.stop(grace);
    await this.#transport.close();
    await this.alerts.stop();
    await this.#status.stop();
    await this.#protocolLog?.close();
    await this.spool.close();
    this.#log.info('relay stopped');
  }
}

/** A route as the log names it: the default route by its hosts, another by its domain and hosts. */
function describeRoute(route: string, descriptions: Map<string, string>): string {
  const hosts = descriptions.get(route) ?? '';
  return route === 'default' ? hosts : `${hosts} (route ${route})`;
}
