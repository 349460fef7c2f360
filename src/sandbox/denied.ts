/** What the sandbox's egress policy dropped, read from its table at exit. */
import { run } from '../system/exec.js';
import { DENIED_TIMEOUT_S, SBX_TABLE } from './ruleset.js';
import type { Counters, DeniedAttempt } from './types.js';

/**
 * Reads the sandbox's egress table once: the denied destinations with their first-attempt time
 * (from the set's timeout: `expires` counts down from DENIED_TIMEOUT_S since the first packet;
 * nft reports whole seconds, so a time is at most a second early — never before `since`) and the
 * named counters.
 */
export async function readDenied(inside: readonly string[], since: number): Promise<{ denied: DeniedAttempt[]; counters: Counters }> {
  // One read of the whole table: the set of denied attempts and the named counters. `inside`
  // enters the sandbox's namespace (`ip netns exec NS`, or nsenter into a rootless holder).
  const s = await run([...inside, 'nft', '-j', 'list', 'table', 'inet', SBX_TABLE]);
  return parseDenied(s.stdout, since);
}

/** `nft -j list table inet cordon_sbx` → denied attempts and counters (nothing on bad or empty JSON). */
export function parseDenied(json: string, since: number): { denied: DeniedAttempt[]; counters: Counters } {
  const now = Date.now();
  const denied: DeniedAttempt[] = [];
  type Elem = { elem?: { val?: { concat?: (string | number)[] }; expires?: number; counter?: { packets: number; bytes: number } } };
  type Obj = { set?: { name: string; elem?: Elem[] }; counter?: { name: string; packets: number; bytes: number } };
  const counts: Record<string, { packets: number; bytes: number }> = {};
  try {
    const j = JSON.parse(json) as { nftables: Obj[] };
    for (const o of j.nftables) {
      if (o.counter) counts[o.counter.name] = o.counter;
      if (o.set?.name !== 'denied') continue;
      for (const e of o.set.elem ?? []) {
        const v = e.elem?.val?.concat ?? [];
        const proto = String(v[1] ?? '?');
        const port = typeof v[2] === 'number' && v[2] !== 0 ? v[2] : undefined;
        const age = e.elem?.expires !== undefined ? (DENIED_TIMEOUT_S - e.elem.expires) * 1000 : now - since;
        denied.push({
          time: new Date(Math.max(since, now - age)).toISOString(),
          destination: String(v[0] ?? '?'),
          proto: proto === '1' ? 'icmp' : proto === '6' ? 'tcp' : proto === '17' ? 'udp' : proto,
          port,
          packets: e.elem?.counter?.packets ?? 0,
          bytes: e.elem?.counter?.bytes ?? 0,
          rule: 'egress-policy',
        });
      }
    }
  } catch {
    // no table: nothing recorded
  }
  denied.sort(
    (a, b) => a.time.localeCompare(b.time) || a.destination.localeCompare(b.destination) || a.proto.localeCompare(b.proto) || (a.port ?? 0) - (b.port ?? 0),
  );
  return {
    denied,
    counters: {
      packetsOut: counts.tx?.packets ?? 0,
      bytesOut: counts.tx?.bytes ?? 0,
      packetsIn: counts.rx?.packets ?? 0,
      bytesIn: counts.rx?.bytes ?? 0,
      deniedPackets: counts.denied?.packets ?? 0,
      deniedBytes: counts.denied?.bytes ?? 0,
    },
  };
}
