/**
 * The metric names the guard exports (src/guard/metrics.ts), as the alerts and the dashboard refer
 * to them. A renderer cannot import the guard (it sits on a higher floor), so the names are
 * written here once; test/render-prometheus.test.ts checks both ways that this list and the
 * guard's registry agree, so a renamed metric cannot leave a silent alert behind.
 */
export const M = {
  up: 'cordon_guard_up',
  blocked: 'agent_network_blocked_connections_total',
  attempts: 'agent_network_connection_attempts_total',
  unlogged: 'cordon_blocked_unlogged_total',
  drift: 'cordon_ruleset_drift',
  tamper: 'cordon_ruleset_tamper_total',
  killswitch: 'cordon_killswitch_engaged',
  handshakeAge: 'cordon_vpn_handshake_age_seconds',
  rogue: 'cordon_rogue_connections_total',
  anomalies: 'cordon_anomalies_total',
  eventsDropped: 'cordon_events_dropped_total',
  rxBytes: 'agent_vm_network_rx_bytes_total',
  txBytes: 'agent_vm_network_tx_bytes_total',
  rxPackets: 'agent_vm_network_rx_packets_total',
  txPackets: 'agent_vm_network_tx_packets_total',
  reportSent: 'cordon_report_sent_total',
  reportDropped: 'cordon_report_dropped_total',
  reportPending: 'cordon_report_pending_events',
  reportUp: 'cordon_report_up',
  webhookDeliveries: 'cordon_webhook_deliveries_total',
  webhookFailures: 'cordon_webhook_failures_total',
  webhookDropped: 'cordon_webhook_dropped_total',
} as const;

export const METRIC_NAMES: readonly string[] = Object.values(M);

/** Series of the guard as a whole, without a host label: panels of these cannot follow $host. */
export const GUARD_WIDE_METRICS: readonly string[] = [
  M.eventsDropped,
  M.reportSent,
  M.reportDropped,
  M.reportPending,
  M.reportUp,
  M.webhookDeliveries,
  M.webhookFailures,
  M.webhookDropped,
];
