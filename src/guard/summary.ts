/**
 * What a guard saw during a stretch of time, for people: blocked attempts per enforcement point
 * with the spec's words for the most frequent origin, rogue connections per vpn-only host,
 * anomalies, drift. `cordon lab attack` prints it
 * after an attack when the lab has a guard. Pure.
 */
import { basename } from 'node:path';
import type { GuardEvent } from './events.js';

/** Lines summarising `events` with time in [from, to] (epoch ms); empty when there were none. */
export function summarizeEvents(events: readonly GuardEvent[], from: number, to: number): string[] {
  const inWindow = events.filter((e) => {
    const t = Date.parse(e.time);
    return t >= from && t <= to;
  });
  const blocked = inWindow.filter((e) => e.type === 'blocked');
  const byPoint = new Map<string, Map<string, number>>();
  for (const e of blocked) {
    const why = `${e.origin.kind === 'default' ? 'chain default' : e.origin.path}: "${e.origin.text}" (${basename(e.origin.file)}:${e.origin.line})`;
    const m = byPoint.get(e.origin.point) ?? new Map<string, number>();
    m.set(why, (m.get(why) ?? 0) + 1);
    byPoint.set(e.origin.point, m);
  }
  const out: string[] = [];
  if (blocked.length > 0) {
    out.push(
      `guard: ${blocked.length} blocked attempt${blocked.length === 1 ? '' : 's'} logged (NFLOG is rate-limited per enforcement point, 50/s after a burst of 100: the rest is counted in cordon_blocked_unlogged_total)`,
    );
    for (const [point, whys] of [...byPoint].sort(([a], [b]) => a.localeCompare(b))) {
      const total = [...whys.values()].reduce((a, b) => a + b, 0);
      const [top, n] = [...whys].sort((a, b) => b[1] - a[1])[0]!;
      out.push(`  ${point}: ${total}, most by ${top}${whys.size > 1 ? ` (${n}; ${whys.size - 1} other rule${whys.size === 2 ? '' : 's'})` : ''}`);
    }
  }
  // Rogue: one line per vpn-only host and verdict (a flood of attempts is one line, not a screenful).
  const rogue = new Map<string, number>();
  for (const e of inWindow) if (e.type === 'rogue') rogue.set(`${e.from}\u0000${e.verdict}`, (rogue.get(`${e.from}\u0000${e.verdict}`) ?? 0) + 1);
  for (const [k, n] of [...rogue].sort(([a], [b]) => a.localeCompare(b))) {
    const [from, verdict] = k.split('\u0000');
    out.push(
      verdict === 'allowed'
        ? `guard: ${n} rogue connection${n === 1 ? '' : 's'} from ${from} got out around its tunnel (LEAKED)`
        : `guard: ${n} rogue attempt${n === 1 ? '' : 's'} from ${from} around its tunnel, blocked`,
    );
  }
  for (const e of inWindow) {
    if (e.type === 'anomaly')
      out.push(
        `guard: anomaly on ${e.subject}: ${e.ratePerMinute} ${e.kind === 'blocked' ? 'blocked attempts' : 'new connections'} a minute (${e.direction === 'down' ? 'far below its baseline' : e.reason})`,
      );
    if (e.type === 'drift')
      out.push(
        `guard: drift on ${e.host} (${e.action}): ${e.differences.slice(0, 2).join('; ')}${e.differences.length > 2 ? ` … (${e.differences.length} lines)` : ''}`,
      );
    if (e.type === 'killswitch' && e.engaged) out.push(`guard: kill switch engaged on ${e.host}`);
    if (e.type === 'vpn-down') out.push(`guard: ${e.tunnel} down on ${e.host} (peer ${e.peer})`);
  }
  return out;
}
