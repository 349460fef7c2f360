/**
 * A Grafana dashboard (the classic JSON model, schemaVersion 39: Grafana 10.4 and later import it)
 * over the guard's metrics: state at a glance (guard up, drift, kill switch, tampering), then rates
 * (blocked attempts by destination class, connection attempts by protocol, traffic), VPN handshake
 * age, and what rate limits or slow consumers kept from the log. The Prometheus data source is a
 * dashboard variable, so the file imports anywhere; the host variable lists the spec's hosts.
 * Thresholds drawn on the panels are the spec's `guard:` values, the same the alerts use. The
 * spec's file name appears only in the top-level description (free text, like a comment).
 */
import type { Model } from '../../model/types.js';
import { shortHash } from '../../model/names.js';
import { inert } from '../escape.js';
import { M } from './metrics.js';
import { labelValue } from './promql.js';

/** Grafana's dashboard JSON schema version this file is written in. */
export const SCHEMA_VERSION = 39;

const DS = { type: 'prometheus', uid: '${datasource}' } as const;
const SEL = 'host=~"$host"';

interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
}

interface Panel {
  readonly id: number;
  readonly type: 'stat' | 'timeseries';
  readonly title: string;
  readonly description: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource: typeof DS;
  readonly targets: readonly Target[];
  readonly fieldConfig: unknown;
  readonly options: unknown;
}

function targets(...t: readonly [expr: string, legend: string][]): Target[] {
  return t.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat }));
}

/** Green below `red`, red from it on: a 0/1 state or a rate threshold. */
function steps(red: number, inverted = false): unknown {
  return {
    mode: 'absolute',
    steps: inverted
      ? [
          { color: 'red', value: null },
          { color: 'green', value: red },
        ]
      : [
          { color: 'green', value: null },
          { color: 'red', value: red },
        ],
  };
}

function stat(id: number, x: number, title: string, description: string, t: Target[], red: number, inverted = false): Panel {
  return {
    id,
    type: 'stat',
    title,
    description,
    gridPos: { x, y: 0, w: 6, h: 4 },
    datasource: DS,
    targets: t,
    fieldConfig: { defaults: { unit: 'none', thresholds: steps(red, inverted) }, overrides: [] },
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background', graphMode: 'none', textMode: 'value_and_name' },
  };
}

function series(id: number, x: number, y: number, title: string, description: string, t: Target[], unit: string, line?: number): Panel {
  return {
    id,
    type: 'timeseries',
    title,
    description,
    gridPos: { x, y, w: 12, h: 8 },
    datasource: DS,
    targets: t,
    fieldConfig: {
      defaults: {
        unit,
        custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, thresholdsStyle: { mode: line === undefined ? 'off' : 'line' } },
        thresholds: line === undefined ? steps(Number.MAX_SAFE_INTEGER) : steps(line),
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['max', 'lastNotNull'] }, tooltip: { mode: 'multi', sort: 'desc' } },
  };
}

/** The dashboard for `hosts` (the spec's hosts, sorted), as a JSON value. */
export function dashboard(model: Model, hosts: readonly string[]): unknown {
  const g = model.guard;
  const spec = inert(model.file.split('/').pop() ?? model.file);
  const rate = (m: string, by: string): string => `sum by (${by}) (rate(${m}{${SEL}}[$__rate_interval]))`;
  const panels: Panel[] = [
    stat(
      1,
      0,
      'Guard up',
      'cordon_guard_up: 1 while a guard watches the host. Red: no guard (the rules stay in force, but nobody watches).',
      targets([`${M.up}{${SEL}}`, '{{host}}']),
      1,
      true,
    ),
    stat(
      2,
      6,
      'Rule set drift',
      "cordon_ruleset_drift: 1 while cordon's tables in the kernel differ from the rule set that was loaded.",
      targets([`${M.drift}{${SEL}}`, '{{host}}']),
      1,
    ),
    stat(
      3,
      12,
      'Kill switch',
      "cordon_killswitch_engaged: 1 while the guard's kill switch cuts the host's guests off.",
      targets([`${M.killswitch}{${SEL}}`, '{{host}}']),
      1,
    ),
    stat(
      4,
      18,
      'Tampering (time range)',
      "Changes to cordon's tables in the dashboard's time range, re-applied or not.",
      targets([`sum by (host) (increase(${M.tamper}{${SEL}}[$__range]))`, '{{host}}']),
      1,
    ),
    series(
      5,
      0,
      4,
      'Blocked attempts per minute',
      `Packets cordon's rules dropped, by host and destination class (never an address: those are in the events). The line: guard.blockedPerMinute (${g.blockedPerMinute}).`,
      targets([`${rate(M.blocked, 'host, class')} * 60`, '{{host}} → {{class}}']),
      'short',
      g.blockedPerMinute,
    ),
    series(
      6,
      12,
      4,
      'Connection attempts per minute',
      `New connections, allowed (conntrack) or blocked, by host and protocol. The line: guard.connectionsPerMinute (${g.connectionsPerMinute}).`,
      targets([`${rate(M.attempts, 'host, proto')} * 60`, '{{host}} {{proto}}']),
      'short',
      g.connectionsPerMinute,
    ),
    series(
      7,
      0,
      12,
      'Traffic (bytes/s)',
      "Per host, from the kernel's interface counters (a guest's host-side port): received above the axis, sent below.",
      targets([rate(M.rxBytes, 'host'), '{{host}} rx'], [`-${rate(M.txBytes, 'host')}`, '{{host}} tx']),
      'Bps',
    ),
    series(
      8,
      12,
      12,
      'Traffic (packets/s)',
      'Per host: received above the axis, sent below.',
      targets([rate(M.rxPackets, 'host'), '{{host}} rx'], [`-${rate(M.txPackets, 'host')}`, '{{host}} tx']),
      'pps',
    ),
    series(
      9,
      0,
      20,
      'VPN handshake age',
      `Seconds since each WireGuard peer's last handshake. Above the line (guard.vpnDownAfter, ${g.vpnDownAfterS} s) the tunnel is down.`,
      targets([`${M.handshakeAge}{${SEL}}`, '{{host}} ↔ {{peer}}']),
      's',
      g.vpnDownAfterS,
    ),
    series(
      10,
      12,
      20,
      'Not logged',
      'Drops the NFLOG rate limit kept from the log (still counted by the kernel), and events the guard could not write (slow or gone consumer).',
      targets(
        [`sum by (host) (increase(${M.unlogged}{${SEL}}[$__rate_interval]))`, '{{host}} unlogged drops'],
        [`sum(increase(${M.eventsDropped}[$__rate_interval]))`, 'events dropped'],
      ),
      'short',
    ),
    series(
      11,
      0,
      28,
      'Rogue connections (vpn-only hosts)',
      'What left a vpn-only host other than through its tunnel: blocked attempts, and connections that got out (a leak: the rules are not in force).',
      targets([`sum by (host, verdict) (increase(${M.rogue}{${SEL}}[$__rate_interval]))`, '{{host}} {{verdict}}']),
      'short',
      1,
    ),
    series(
      12,
      12,
      28,
      'Anomalies',
      `Times a host's rate left its limits: up, above guard.blockedPerMinute ${g.blockedPerMinute}, guard.connectionsPerMinute ${g.connectionsPerMinute} or ${g.deviations} deviations above its moving average; down, new connections fell far below that average.`,
      targets([`sum by (host, kind, direction) (increase(${M.anomalies}{${SEL}}[$__rate_interval]))`, '{{host}} {{kind}} {{direction}}']),
      'short',
      1,
    ),
    // Guard-wide series (no host label): a guard has one reporter and one set of webhooks.
    series(
      13,
      0,
      36,
      'Reporting to the server (--report-to)',
      'Events waiting in the spool on disk, events the server took, and events never delivered (spool full, or refused by the server). Up is 0 while the server is unreachable or refuses the token.',
      targets(
        [`sum(${M.reportPending})`, 'pending on disk'],
        [`sum(increase(${M.reportSent}[$__rate_interval]))`, 'sent'],
        [`sum by (reason) (increase(${M.reportDropped}[$__rate_interval]))`, 'dropped ({{reason}})'],
        [`min(${M.reportUp})`, 'server up'],
      ),
      'short',
    ),
    series(
      14,
      12,
      36,
      'Webhooks (guard.webhooks)',
      'Events handed to each webhook by outcome, failed requests (retries included), and events never tried because the queue was full or the guard stopped.',
      targets(
        [`sum by (webhook, outcome) (increase(${M.webhookDeliveries}[$__rate_interval]))`, '{{webhook}} {{outcome}}'],
        [`sum by (webhook) (increase(${M.webhookFailures}[$__rate_interval]))`, '{{webhook}} failed requests'],
        [`sum by (webhook) (increase(${M.webhookDropped}[$__rate_interval]))`, '{{webhook}} dropped'],
      ),
      'short',
    ),
  ];
  const names = [...hosts].map(labelValue).sort();
  // Title and uid from the hosts, not the file name: renaming the spec keeps the dashboard Grafana
  // has (same uid), and two specs' dashboards stay apart (titles are unique per folder).
  const shown = names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
  return {
    uid: `cordon-${shortHash(names.join(','), 12)}`,
    title: `cordon guard: ${shown}`,
    // The only place the file name goes: documentation, never a name Grafana keys on.
    description: `The cordon guard's metrics for the hosts of ${spec}. Generated by cordon (render --target prometheus); change the spec and render again.`,
    tags: ['cordon'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        {
          name: 'host',
          label: 'Host',
          type: 'custom',
          query: names.join(','),
          multi: true,
          includeAll: true,
          current: { selected: true, text: ['All'], value: ['$__all'] },
          options: names.map((n) => ({ selected: false, text: n, value: n })),
          hide: 0,
        },
      ],
    },
    panels,
  };
}
