/**
 * The Live view's per-host summary, folded from guard events oldest to newest: how many of each
 * type, whether the guard runs, whether cordon's tables are as loaded (drift, re-load, kill switch)
 * and each WireGuard peer's state. Pure, so the view only renders it. Events arrive as the server
 * stored them (the guard's schema, kept loose here: a field of the wrong type is shown as unknown,
 * never trusted).
 */
import type { StoredEvent } from './api';

export type DriftState =
  | { kind: 'unknown' }
  | { kind: 'in-sync'; at: string }
  | { kind: 'drifted'; at: string; action: string }
  | { kind: 'reapplied'; at: string; ok: boolean }
  | { kind: 'killswitch'; at: string; engaged: boolean };

export interface HostSummary {
  readonly host: string;
  /** Events per type, in this window. */
  readonly counts: Map<string, number>;
  guard: 'running' | 'stopped' | 'unknown';
  drift: DriftState;
  /** `tunnel → peer` → its state and when it was reported. */
  readonly vpn: Map<string, { up: boolean; at: string; ageSeconds: number | null }>;
  lastAt: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Folds `events` (any order; sorted here by id) into one summary per host, hosts sorted by name. */
export function summarize(events: readonly StoredEvent[]): HostSummary[] {
  const by = new Map<string, HostSummary>();
  for (const s of [...events].sort((a, b) => a.id - b.id)) {
    const e = s.event;
    let h = by.get(e.host);
    if (!h) {
      h = { host: e.host, counts: new Map(), guard: 'unknown', drift: { kind: 'unknown' }, vpn: new Map(), lastAt: e.time };
      by.set(e.host, h);
    }
    h.counts.set(e.type, (h.counts.get(e.type) ?? 0) + 1);
    h.lastAt = e.time;
    switch (e.type) {
      case 'guard-started':
        h.guard = 'running';
        // The guard checks the loaded rules before it says it started.
        if (h.drift.kind === 'unknown') h.drift = { kind: 'in-sync', at: e.time };
        break;
      case 'guard-stopped':
        h.guard = 'stopped';
        break;
      case 'drift':
        h.guard = 'running';
        h.drift = { kind: 'drifted', at: e.time, action: str(e.action) ?? 'unknown' };
        break;
      case 'reapplied':
        h.guard = 'running';
        h.drift = { kind: 'reapplied', at: e.time, ok: e.ok === true };
        break;
      case 'killswitch':
        h.guard = 'running';
        h.drift = { kind: 'killswitch', at: e.time, engaged: e.engaged === true };
        break;
      case 'vpn-up':
      case 'vpn-down': {
        h.guard = 'running';
        const key = `${str(e.tunnel) ?? '?'} → ${str(e.peer) ?? '?'}`;
        h.vpn.set(key, { up: e.type === 'vpn-up', at: e.time, ageSeconds: typeof e.ageSeconds === 'number' ? e.ageSeconds : null });
        break;
      }
      default:
        if (e.type === 'blocked') h.guard = 'running';
    }
  }
  return [...by.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

/** The drift state in a few words, as the summary's cell shows it. */
export function driftText(d: DriftState): string {
  switch (d.kind) {
    case 'unknown':
      return 'unknown';
    case 'in-sync':
      return 'as loaded';
    case 'drifted':
      return `drifted (${d.action})`;
    case 'reapplied':
      return d.ok ? 're-loaded' : 're-load refused';
    case 'killswitch':
      return d.engaged ? 'kill switch engaged' : 'kill switch lifted';
  }
}

/** Whether the state calls for attention (drawn as a problem). */
export function driftBad(d: DriftState): boolean {
  return d.kind === 'drifted' || (d.kind === 'reapplied' && !d.ok) || (d.kind === 'killswitch' && d.engaged);
}
