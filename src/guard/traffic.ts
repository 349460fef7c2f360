/**
 * Per-host traffic (seed 001's `agent_vm_network_{rx,tx}_{bytes,packets}_total{host}`) from
 * interface counters the kernel keeps in the enforcing namespace, never from inside a guest:
 *
 * - a guest attached to a bridge of the enforcing host: its host-side port (`tap101i0`), whose
 *   counters are seen from the bridge, so the port's rx is what the guest sent (its tx) and the
 *   other way round;
 * - the enforcing host itself when it is a guest enforcing its own egress (the vpn-only VM): its
 *   own network interfaces (not tunnels: their traffic is inside the physical interfaces' already).
 *
 * The counters are read with `ip -s -j link show` (rtnetlink, the numbers /sys/class/net/IF/statistics
 * shows, for every interface in one call and without remounting /sys in the namespace). Pure
 * parts here; the guard reads on each scrape.
 */
import type { Ir } from '../ir/types.js';
import { GUEST_KINDS } from '../model/types.js';

/** One interface whose counters stand for one host's traffic. */
export interface TrafficPort {
  readonly host: string;
  readonly ifname: string;
  /** A host-side bridge port: its rx is the guest's tx. */
  readonly hostSide: boolean;
}

export interface LinkStats {
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
}

/** The interfaces that may carry per-host traffic in `enforcing`'s namespace (those absent there are skipped when read). */
export function trafficPorts(ir: Ir, enforcing: string): TrafficPort[] {
  const out: TrafficPort[] = [];
  for (const h of [...ir.model.hosts.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (h.name === enforcing) {
      if (!GUEST_KINDS.has(h.kind)) continue;
      for (const n of h.nics) if (ir.model.networks.has(n.segment)) out.push({ host: h.name, ifname: n.ifname, hostSide: false });
    } else {
      for (const n of h.nics) if (n.port !== undefined) out.push({ host: h.name, ifname: n.port, hostSide: true });
    }
  }
  return out;
}

/** `ip -s -j link show` output → counters by interface name; throws on output that is not that. */
export function parseLinkStats(json: string): Map<string, LinkStats> {
  const doc: unknown = JSON.parse(json);
  if (!Array.isArray(doc)) throw new Error('ip -j link printed no list');
  const out = new Map<string, LinkStats>();
  for (const l of doc as { ifname?: unknown; stats64?: { rx?: { bytes?: unknown; packets?: unknown }; tx?: { bytes?: unknown; packets?: unknown } } }[]) {
    const rx = l.stats64?.rx;
    const tx = l.stats64?.tx;
    if (typeof l.ifname !== 'string' || !rx || !tx) continue;
    out.set(l.ifname, { rxBytes: Number(rx.bytes), txBytes: Number(tx.bytes), rxPackets: Number(rx.packets), txPackets: Number(tx.packets) });
  }
  return out;
}

/** The host's view of one port's counters (a host-side port's directions swapped). */
export function hostView(p: TrafficPort, s: LinkStats): LinkStats {
  return p.hostSide ? { rxBytes: s.txBytes, txBytes: s.rxBytes, rxPackets: s.txPackets, txPackets: s.rxPackets } : s;
}

const KEYS = ['rxBytes', 'txBytes', 'rxPackets', 'txPackets'] as const;

/**
 * Turns kernel totals into counter increments: the growth since the last reading, or the whole
 * value when it went down (the interface was made anew: the kernel's count starts again).
 */
export class TrafficTally {
  private readonly last = new Map<string, LinkStats>();

  /** Increments per host for the ports found in `stats`. */
  update(ports: readonly TrafficPort[], stats: ReadonlyMap<string, LinkStats>): Map<string, LinkStats> {
    const out = new Map<string, { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number }>();
    for (const p of ports) {
      const s = stats.get(p.ifname);
      if (!s) continue;
      const cur = hostView(p, s);
      const prev = this.last.get(p.ifname);
      this.last.set(p.ifname, cur);
      const acc = out.get(p.host) ?? { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
      for (const k of KEYS) acc[k] += prev === undefined || cur[k] < prev[k] ? cur[k] : cur[k] - prev[k];
      out.set(p.host, acc);
    }
    return out;
  }
}
