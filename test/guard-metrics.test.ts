/**
 * The guard's exposition, checked by Prometheus' own tool: every series the guard can write,
 * populated (a host with every label combination it uses, a VPN peer that never shook hands at
 * +Inf, dropped events), must pass `promtool check metrics` with no lint finding — the names,
 * types, `_total` on counters and help text that scrapers and recording rules rely on. The check
 * itself is shown to fail on a broken exposition, so a pass means something. No namespaces needed:
 * the live suite (guard.test.ts) checks a real scrape the same way.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DEST_CLASSES } from '../src/guard/events.js';
import { GuardMetrics } from '../src/guard/metrics.js';
import { checkMetrics, NO_PROMTOOL, PROMTOOL } from './support/promtool.js';
import { skipOrFail } from './support/require-env.js';

/** The names the issue and seed 001 ask for (a renamed metric breaks dashboards and alerts). */
const REQUIRED = [
  'agent_vm_network_rx_bytes_total',
  'agent_vm_network_tx_bytes_total',
  'agent_vm_network_rx_packets_total',
  'agent_vm_network_tx_packets_total',
  'agent_network_connection_attempts_total',
  'agent_network_blocked_connections_total',
  'cordon_guard_up',
  'cordon_ruleset_drift',
  'cordon_ruleset_tamper_total',
  'cordon_killswitch_engaged',
  'cordon_vpn_handshake_age_seconds',
  'cordon_events_dropped_total',
  'cordon_blocked_unlogged_total',
  'cordon_rogue_connections_total',
  'cordon_anomalies_total',
  'cordon_report_sent_total',
  'cordon_report_dropped_total',
  'cordon_report_pending_events',
  'cordon_report_up',
];

/** A registry with every metric the guard has written at least once, for two hosts. */
async function fullExposition(): Promise<{ metrics: GuardMetrics; text: string }> {
  const m = new GuardMetrics();
  for (const host of ['agent-1', 'pve']) {
    m.watch(host);
    for (const proto of ['tcp', 'udp', 'icmp', '47'])
      for (const cls of DEST_CLASSES) {
        m.countBlocked(host, proto, cls);
        m.countAttempt(host, proto, cls);
      }
    m.rxBytes.inc({ host }, 1500);
    m.txBytes.inc({ host }, 900);
    m.rxPackets.inc({ host }, 3);
    m.txPackets.inc({ host }, 2);
    m.unlogged.inc({ host }, 7);
    m.tamper.inc({ host });
    m.drift.set({ host }, 1);
    m.killswitch.set({ host }, 1);
  }
  m.handshakeAge.set({ host: 'agent-1', peer: 'vpn-server' }, 12.5);
  m.handshakeAge.set({ host: 'pve', peer: 'laptop' }, Infinity);
  m.eventsDropped.inc(4);
  m.rogue.inc({ host: 'agent-1', verdict: 'blocked' }, 3);
  m.rogue.inc({ host: 'agent-1', verdict: 'allowed' }, 0);
  m.anomalies.inc({ host: 'agent-1', kind: 'blocked', direction: 'up' });
  m.anomalies.inc({ host: 'pve', kind: 'connections', direction: 'up' }, 0);
  m.anomalies.inc({ host: 'pve', kind: 'connections', direction: 'down' }, 2);
  m.up.set({ host: 'pve' }, 0);
  m.reportSent.inc(120);
  m.reportDropped.inc({ reason: 'full' }, 3);
  m.reportDropped.inc({ reason: 'refused' }, 1);
  m.reportPending.set(42);
  m.reportUp.set(0);
  return { metrics: m, text: await m.text() };
}

describe('guard metrics: promtool check metrics', () => {
  it('accepts every series the guard writes, with no lint finding', async (t) => {
    if (!PROMTOOL) return skipOrFail(t, NO_PROMTOOL);
    const { metrics, text } = await fullExposition();
    const r = checkMetrics(PROMTOOL, text);
    assert.equal(r.code, 0, `promtool check metrics:\n${r.out}`);
    assert.equal(r.out.trim(), '', 'no lint finding either');
    // Every metric of the registry is in what promtool checked (none left out of the test).
    const names = (await metrics.registry.getMetricsAsJSON()).map((x) => x.name);
    for (const name of REQUIRED) assert.ok(names.includes(name), `${name} is not in the registry`);
    for (const name of names) assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), name);
    assert.match(text, /^cordon_vpn_handshake_age_seconds\{host="pve",peer="laptop"\} \+Inf$/m);
    // Anomalies carry their direction, so an alert can tell a burst from a host gone quiet.
    assert.match(text, /^cordon_anomalies_total\{host="agent-1",kind="blocked",direction="up"\} 1$/m);
    assert.match(text, /^cordon_anomalies_total\{host="pve",kind="connections",direction="down"\} 2$/m);
  });

  it('fails a counter without _total and an unparsable line (the check can fail)', (t) => {
    if (!PROMTOOL) return skipOrFail(t, NO_PROMTOOL);
    const lint = checkMetrics(PROMTOOL, '# HELP cordon_blocked x\n# TYPE cordon_blocked counter\ncordon_blocked{host="h"} 1\n');
    assert.notEqual(lint.code, 0);
    assert.match(lint.out, /_total/);
    const broken = checkMetrics(PROMTOOL, 'cordon_guard_up{host="h" 1\n');
    assert.notEqual(broken.code, 0);
    assert.match(broken.out, /pars/);
  });
});
