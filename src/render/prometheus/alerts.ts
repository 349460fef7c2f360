/**
 * The Prometheus alerting rules for the guard's metrics, one group `cordon-guard`. What is
 * spec-specific: the enforcing hosts whose guard must be there (`absent()` per host), the
 * thresholds of the spec's `guard:` section, the VPN rule only when the spec has tunnels and the
 * rogue-connection rules only when it has a vpn-only host.
 * Severities: `critical` when enforcement is not what was proven (drift that stays, kill switch,
 * guard gone, tunnel down), `warning` for what needs a look (rates, tampering that was undone,
 * events lost), `info` for drops the NFLOG rate limit kept from the log (still counted).
 */
import type { Model } from '../../model/types.js';
import { M } from './metrics.js';
import { hostMatcher } from './promql.js';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: { readonly severity: 'critical' | 'warning' | 'info' };
  readonly annotations: { readonly summary: string; readonly description: string };
}

/** The window rates are taken over: long enough for a 15–60 s scrape interval to give several samples. */
export const RATE_WINDOW = '5m';

/** The rules, in a fixed order (the file reads from the worst to the least). */
export function alertRules(model: Model, enforcing: readonly string[]): AlertRule[] {
  const g = model.guard;
  const rules: AlertRule[] = [];
  if (enforcing.length > 0) {
    const absent = [...enforcing].sort().map((h) => `absent(${M.up}{${hostMatcher([h])}})`);
    rules.push({
      alert: 'CordonGuardDown',
      expr: [`${M.up}{${hostMatcher(enforcing)}} == 0`, ...absent].join('\nor\n'),
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'No cordon guard watches {{ $labels.host }}',
        description:
          'The guard of {{ $labels.host }} stopped or is not scraped. Its rules stay in force (default drop), but nobody sees blocked attempts, drift or tampering until it runs again: cordon guard SPEC --host {{ $labels.host }}.',
      },
    });
  }
  rules.push(
    {
      alert: 'CordonKillswitchEngaged',
      expr: `${M.killswitch} == 1`,
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Kill switch in force on {{ $labels.host }}',
        description:
          "The guard cut {{ $labels.host }}'s guests off after its rules were tampered with. The cause is in the drift event (cordon events SPEC --type drift --host {{ $labels.host }}); the next cordon apply lifts the switch.",
      },
    },
    {
      alert: 'CordonRulesetDrift',
      expr: `${M.drift} == 1`,
      for: '1m',
      labels: { severity: 'critical' },
      annotations: {
        summary: "cordon's rules on {{ $labels.host }} are not the rule set that was loaded",
        description:
          'The tables in the kernel still differ from what cordon apply loaded a minute after the change (re-applying failed, or the guard only alerts). What changed is in the drift event: cordon events SPEC --type drift --host {{ $labels.host }}.',
      },
    },
    {
      alert: 'CordonRulesetTampered',
      expr: `increase(${M.tamper}[10m]) > 0`,
      labels: { severity: 'warning' },
      annotations: {
        summary: "Something changed cordon's rules on {{ $labels.host }}",
        description:
          "{{ $value }} change(s) to cordon's tables (or a foreign table at a hook) in the last 10 minutes, even if the guard re-applied them: find out what rewrites the firewall (Docker, libvirt, a firewall reload).",
      },
    },
  );
  const vpnOnly = [...model.hosts.values()].some((h) => h.egress === 'vpn-only');
  if (vpnOnly)
    rules.push(
      {
        alert: 'CordonRogueConnectionLeaked',
        expr: `increase(${M.rogue}{verdict="allowed"}[${RATE_WINDOW}]) > 0`,
        labels: { severity: 'critical' },
        annotations: {
          summary: 'Traffic left vpn-only {{ $labels.host }} outside its tunnel',
          description:
            '{{ $value }} connection(s) from {{ $labels.host }} got out other than through its tunnel or as its transport in the last 5 minutes: the rules that should stop them are not in force. Where to: cordon events SPEC --type rogue.',
        },
      },
      {
        alert: 'CordonRogueAttempts',
        expr: `increase(${M.rogue}{verdict="blocked"}[${RATE_WINDOW}]) > 0`,
        labels: { severity: 'warning' },
        annotations: {
          summary: 'vpn-only {{ $labels.host }} tries to get out around its tunnel',
          description:
            '{{ $value }} attempt(s) in the last 5 minutes to send outside the tunnel, dropped by the rules: the workload tries what its policy forbids (seed 004: there is no legitimate non-VPN traffic). Where to: cordon events SPEC --type rogue.',
        },
      },
    );
  if (model.tunnels.size > 0)
    rules.push({
      alert: 'CordonVpnHandshakeStale',
      expr: `${M.handshakeAge} > ${g.vpnDownAfterS}`,
      labels: { severity: 'critical' },
      annotations: {
        summary: 'WireGuard peer {{ $labels.peer }} of {{ $labels.host }} is down',
        description: `No handshake for {{ $value }} s (more than ${g.vpnDownAfterS} s): the tunnel carries nothing. A vpn-only host stays closed (its rules drop everything else), so its workload has no network until the tunnel is back.`,
      },
    });
  rules.push(
    {
      alert: 'CordonBlockedAttempts',
      expr: `sum by (host) (rate(${M.blocked}[${RATE_WINDOW}])) * 60 > ${g.blockedPerMinute}`,
      for: '2m',
      labels: { severity: 'warning' },
      annotations: {
        summary: '{{ $labels.host }} keeps trying what its policy forbids',
        description: `{{ $value | humanize }} blocked attempts a minute (threshold ${g.blockedPerMinute}, spec guard.blockedPerMinute): which rule dropped them, to where: cordon events SPEC --type blocked --host {{ $labels.host }}.`,
      },
    },
    {
      alert: 'CordonConnectionRate',
      expr: `sum by (host) (rate(${M.attempts}[${RATE_WINDOW}])) * 60 > ${g.connectionsPerMinute}`,
      for: '2m',
      labels: { severity: 'warning' },
      annotations: {
        summary: '{{ $labels.host }} opens unusually many connections',
        description: `{{ $value | humanize }} new connections a minute, allowed or not (threshold ${g.connectionsPerMinute}, spec guard.connectionsPerMinute).`,
      },
    },
    {
      alert: 'CordonAnomaly',
      // `!=` also matches series without the label (guards from before it, which counted both directions as one).
      expr: `sum by (host, kind) (increase(${M.anomalies}{direction!="down"}[10m])) > 0`,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Unusual {{ $labels.kind }} rate on {{ $labels.host }}',
        description: `{{ $labels.host }}'s rate of {{ $labels.kind }} left its limits in the last 10 minutes: above the spec's threshold (guard.blockedPerMinute ${g.blockedPerMinute}, guard.connectionsPerMinute ${g.connectionsPerMinute}) or ${g.deviations} deviations above its own moving average. The rates and baseline are in the anomaly event: cordon events SPEC --type anomaly --host {{ $labels.host }}.`,
      },
    },
    {
      // A rate that falls says something else than one that rises (not an attack: an outage), so it is its own alert.
      alert: 'CordonConnectionsStopped',
      expr: `sum by (host) (increase(${M.anomalies}{kind="connections",direction="down"}[10m])) > 0`,
      labels: { severity: 'warning' },
      annotations: {
        summary: '{{ $labels.host }} stopped opening connections',
        description:
          "{{ $labels.host }}'s rate of new connections fell far below its own moving average in the last 10 minutes and stayed there for several readings: a dead agent, a stopped service or a cut link. The rate and baseline are in the anomaly event: cordon events SPEC --type anomaly --host {{ $labels.host }}.",
      },
    },
    {
      alert: 'CordonEventsDropped',
      expr: `increase(${M.eventsDropped}[10m]) > 0`,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'The guard dropped events',
        description:
          '{{ $value }} event(s) not written in the last 10 minutes: the event consumer (--events file or pipe) is too slow or gone. The counters in the metrics are still complete.',
      },
    },
    {
      alert: 'CordonBlockedUnlogged',
      expr: `increase(${M.unlogged}[10m]) > 0`,
      labels: { severity: 'info' },
      annotations: {
        summary: 'More blocked packets on {{ $labels.host }} than the log rate limit lets through',
        description:
          '{{ $value }} dropped packets in the last 10 minutes were counted by the kernel but not logged (NFLOG is rate-limited at the source so a flood cannot flood the guard).',
      },
    },
  );
  return rules;
}
