/**
 * The guard's Prometheus metrics (prom-client, one registry per guard, never the global one) and
 * the HTTP endpoint that serves them. Names follow seed 001 and Prometheus' conventions: counters
 * end in `_total`, labels are bounded (host names from the spec, protocols, destination classes),
 * addresses go into events, never into labels.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DestClass } from './events.js';

/** Protocol label values; anything else is `other`, so the label stays bounded. */
const PROTO_LABELS = new Set(['tcp', 'udp', 'icmp']);

export class GuardMetrics {
  readonly registry = new Registry();
  readonly up: Gauge<'host'>;
  readonly blocked: Counter<'host' | 'proto' | 'class'>;
  readonly drift: Gauge<'host'>;
  readonly tamper: Counter<'host'>;
  readonly killswitch: Gauge<'host'>;
  readonly unlogged: Counter<'host'>;
  readonly eventsDropped: Counter;
  readonly attempts: Counter<'host' | 'proto' | 'class'>;
  readonly rxBytes: Counter<'host'>;
  readonly txBytes: Counter<'host'>;
  readonly rxPackets: Counter<'host'>;
  readonly txPackets: Counter<'host'>;
  readonly handshakeAge: Gauge<'host' | 'peer'>;
  readonly rogue: Counter<'host' | 'verdict'>;
  readonly anomalies: Counter<'host' | 'kind' | 'direction'>;
  readonly reportSent: Counter;
  readonly reportDropped: Counter<'reason'>;
  readonly reportPending: Gauge;
  readonly reportUp: Gauge;
  readonly webhookDeliveries: Counter<'webhook' | 'outcome'>;
  readonly webhookFailures: Counter<'webhook'>;
  readonly webhookDropped: Counter<'webhook'>;
  /** Run before each exposition (counters read from the kernel on scrape). */
  private readonly refreshers: (() => Promise<void>)[] = [];

  constructor() {
    const registers = [this.registry];
    this.up = new Gauge({ name: 'cordon_guard_up', help: '1 while the guard watches this host, 0 once it stopped.', labelNames: ['host'], registers });
    this.blocked = new Counter({
      name: 'agent_network_blocked_connections_total',
      help: "Packets cordon's rules dropped and logged (NFLOG, rate-limited at the source), by the host the rule is about, protocol and destination class.",
      labelNames: ['host', 'proto', 'class'],
      registers,
    });
    this.drift = new Gauge({
      name: 'cordon_ruleset_drift',
      help: "1 while cordon's tables in the kernel differ from the rule set that was loaded, else 0.",
      labelNames: ['host'],
      registers,
    });
    this.tamper = new Counter({
      name: 'cordon_ruleset_tamper_total',
      help: "Changes to cordon's tables (or a cordon table gone) the guard detected.",
      labelNames: ['host'],
      registers,
    });
    this.killswitch = new Gauge({
      name: 'cordon_killswitch_engaged',
      help: "1 while the guard's kill switch table is in force on this host, else 0.",
      labelNames: ['host'],
      registers,
    });
    this.unlogged = new Counter({
      name: 'cordon_blocked_unlogged_total',
      help: "Packets cordon's rules dropped that the NFLOG rate limit (or a full netlink buffer) kept from the guard: the kernel's drop counters minus the drops logged.",
      labelNames: ['host'],
      registers,
    });
    this.eventsDropped = new Counter({
      name: 'cordon_events_dropped_total',
      help: 'Events not written because the event consumer was too slow or gone (bounded queue).',
      registers,
    });
    this.attempts = new Counter({
      name: 'agent_network_connection_attempts_total',
      help: "Connection attempts: connections cordon's rules let through (conntrack, one per connection) plus packets they dropped and logged (as agent_network_blocked_connections_total), by the host the attempt comes from, protocol and destination class.",
      labelNames: ['host', 'proto', 'class'],
      registers,
    });
    const traffic = (name: string, what: string): Counter<'host'> =>
      new Counter({
        name,
        help: `${what} by this host, from the kernel's interface counters in the enforcing namespace (a guest's host-side bridge port, or a self-enforcing guest's own interfaces), read at scrape time.`,
        labelNames: ['host'],
        registers,
      });
    this.rxBytes = traffic('agent_vm_network_rx_bytes_total', 'Bytes received');
    this.txBytes = traffic('agent_vm_network_tx_bytes_total', 'Bytes sent');
    this.rxPackets = traffic('agent_vm_network_rx_packets_total', 'Packets received');
    this.txPackets = traffic('agent_vm_network_tx_packets_total', 'Packets sent');
    this.handshakeAge = new Gauge({
      name: 'cordon_vpn_handshake_age_seconds',
      help: "An age, not a timestamp: seconds since the watched host's last WireGuard handshake with this peer (the spec's name for it), +Inf when there has been none. Above 180 s no session is left: the tunnel is down.",
      labelNames: ['host', 'peer'],
      registers,
    });
    this.rogue = new Counter({
      name: 'cordon_rogue_connections_total',
      help: "Packets or connections that left a vpn-only host (label host) other than through its tunnel or as the tunnel's transport: verdict blocked (dropped by cordon's rules) or allowed (got out: a leak).",
      labelNames: ['host', 'verdict'],
      registers,
    });
    this.anomalies = new Counter({
      name: 'cordon_anomalies_total',
      help: "Times a host's rate of new connections (kind connections) or blocked attempts (kind blocked) left its limits: direction up, above the spec's guard: threshold or its own moving baseline; direction down, new connections fell far below that baseline. Counted when it goes out, once.",
      labelNames: ['host', 'kind', 'direction'],
      registers,
    });
    // Reporting to a server (--report-to): only registered series appear once a reporter starts.
    this.reportSent = new Counter({ name: 'cordon_report_sent_total', help: 'Events the cordon server (--report-to) accepted.', registers });
    this.reportDropped = new Counter({
      name: 'cordon_report_dropped_total',
      help: 'Events never delivered to the cordon server: reason full (the spool on disk was full) or refused (the server refused the event as invalid).',
      labelNames: ['reason'],
      registers,
    });
    this.reportPending = new Gauge({ name: 'cordon_report_pending_events', help: 'Events waiting in the spool on disk for the cordon server.', registers });
    this.reportUp = new Gauge({
      name: 'cordon_report_up',
      help: '1 while the cordon server takes events, 0 while it is unreachable or refuses the token.',
      registers,
    });
    // The spec's guard.webhooks, labelled by their names (bounded: at most 16).
    this.webhookDeliveries = new Counter({
      name: 'cordon_webhook_deliveries_total',
      help: 'Events handed to a webhook: outcome sent (the receiver answered 2xx) or failed (given up after three tries).',
      labelNames: ['webhook', 'outcome'],
      registers,
    });
    this.webhookFailures = new Counter({
      name: 'cordon_webhook_failures_total',
      help: 'Webhook requests that failed: an error status, no connection, or no answer within the timeout (retries included).',
      labelNames: ['webhook'],
      registers,
    });
    this.webhookDropped = new Counter({
      name: 'cordon_webhook_dropped_total',
      help: 'Events never tried on a webhook: its bounded queue was full, or the guard stopped before they went out.',
      labelNames: ['webhook'],
      registers,
    });
  }

  /** Starts the series of one watched host at zero, so a scrape shows them before anything happens. */
  watch(host: string): void {
    this.up.set({ host }, 1);
    this.drift.set({ host }, 0);
    this.tamper.inc({ host }, 0);
    this.killswitch.set({ host }, 0);
    this.unlogged.inc({ host }, 0);
  }

  countBlocked(host: string, proto: string, cls: DestClass): void {
    this.blocked.inc({ host, proto: PROTO_LABELS.has(proto) ? proto : 'other', class: cls });
  }

  countAttempt(host: string, proto: string, cls: DestClass): void {
    this.attempts.inc({ host, proto: PROTO_LABELS.has(proto) ? proto : 'other', class: cls });
  }

  /** Adds a reading run before each exposition (a failing one is skipped: the last values stay). */
  onScrape(refresh: () => Promise<void>): () => void {
    this.refreshers.push(refresh);
    return () => {
      const i = this.refreshers.indexOf(refresh);
      if (i >= 0) this.refreshers.splice(i, 1);
    };
  }

  /** The exposition in Prometheus text format. */
  async text(): Promise<string> {
    await Promise.all(this.refreshers.map((r) => r().catch(() => undefined)));
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  /** `127.0.0.1:PORT` as bound (the port chosen by the kernel when 0 was asked for). */
  readonly address: string;
  close(): Promise<void>;
}

/** A listen address: `127.0.0.1:9464`, `[::1]:9464`, or a bare port (loopback). */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[0-9.]+|localhost):)?(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

/** Serves GET /metrics (and 404 for anything else) on `host:port`; port 0 picks a free one. */
export function serveMetrics(metrics: GuardMetrics, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(e as Error).message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({
        address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
