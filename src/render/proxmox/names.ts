/**
 * Names for the Proxmox firewall: aliases (one address or prefix), IP sets (several) and security
 * groups, under Proxmox's rules: `[A-Za-z][A-Za-z0-9_-]+`, aliases and IP sets at most 64
 * characters, groups at most 18; aliases are case-insensitive (Proxmox lowercases them), so all
 * names here are lowercase. The directory maps cordon's address sets back to names so that a rule
 * reads `-dest +dc/internet` instead of forty prefixes.
 *
 * Rules refer to datacenter objects with the scoped form (`dc/name`, `+dc/name`): the nftables
 * proxmox-firewall parses only that form, and Proxmox VE 8 writes it itself.
 */
import { targetAddrs } from '../../model/addresses.js';
import { NameAllocator, type NameRule } from '../../model/names.js';
import type { Model } from '../../model/types.js';
import { formatCidr, formatIPv4, isAnyAddress, rangeToCidrs } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';

export const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]+$/;
export const MAX_ALIAS_NAME = 64;
export const MAX_IPSET_NAME = 64;
export const MAX_GROUP_NAME = 18;

/** Names Proxmox gives a meaning of its own. */
const RESERVED = new Set(['local_network', 'cluster_network', 'management', 'blacklist', 'venet0']);

export interface Named {
  readonly kind: 'alias' | 'ipset';
  readonly name: string;
  readonly set: RangeSet;
  /** What the name stands for, in cordon's words. */
  readonly comment: string;
}

export function refOf(n: Named): string {
  return n.kind === 'alias' ? `dc/${n.name}` : `+dc/${n.name}`;
}

function keyOf(set: RangeSet): string {
  return set.map(([a, b]) => `${a}-${b}`).join(',');
}

/**
 * Proxmox's rule for object names of at most `max` characters: lowercase letters, digits, "_" and
 * "-", a letter first, at least two characters, none of Proxmox's own names.
 */
export function proxmoxNameRule(max: number): NameRule {
  return {
    max,
    clean: (raw) => {
      let base = raw.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
      if (!/^[a-z]/.test(base)) base = `n${base}`;
      return base.length < 2 ? `${base}_` : base;
    },
    reserved: (name) => RESERVED.has(name) || name.startsWith('ipfilter-'),
    // Proxmox lowercases aliases itself: `AgentFarm` is kept as `agentfarm`, not hashed.
    fold: (raw) => raw.toLowerCase(),
  };
}

/** Allocates unique Proxmox object names (see proxmoxNameRule); a lossy or clashing name gets a short hash. */
export function proxmoxNames(max: number): NameAllocator {
  return new NameAllocator(proxmoxNameRule(max));
}

/**
 * Every name the datacenter defines: an alias per host address (`agentfarm` or, for a host with
 * several, `agentfarm-vmbr0`), per network and tunnel prefix; an IP set per host with several
 * addresses, per spec group, and for `internet` and `lan`.
 */
export class Directory {
  readonly aliases: Named[] = [];
  readonly ipsets: Named[] = [];
  private readonly byKey = new Map<string, Named>();
  private readonly usedIpsets = new Set<string>();

  constructor(model: Model) {
    const aliasNames = proxmoxNames(MAX_ALIAS_NAME);
    const ipsetNames = proxmoxNames(MAX_IPSET_NAME);
    const hosts = [...model.hosts.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const h of hosts) {
      const addrs = [...new Set(h.nics.map((n) => n.address))];
      for (const n of h.nics) {
        const raw = addrs.length === 1 ? h.name : `${h.name}-${n.segment}`;
        this.add({ kind: 'alias', name: aliasNames.take(raw), set: [[n.address, n.address]], comment: `${h.name} on ${n.segment}` });
      }
    }
    const segments = [...model.networks.values(), ...model.tunnels.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const s of segments) {
      this.add({ kind: 'alias', name: aliasNames.take(s.name), set: [[s.range.lo, s.range.hi]], comment: `${s.kind} ${s.name}` });
    }
    for (const h of hosts) {
      const set = R.normalize(h.nics.map((n) => [n.address, n.address] as const));
      if (set.length > 1 || (set.length === 1 && set[0]![0] !== set[0]![1])) {
        this.add({ kind: 'ipset', name: ipsetNames.take(h.name), set, comment: `every address of ${h.name}` });
      }
    }
    for (const [g, targets] of [...model.groups.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      let set: RangeSet = R.EMPTY;
      for (const t of targets) set = R.union(set, targetAddrs(model, t));
      if (set.length === 0 || isAnyAddress(set)) continue;
      this.add({ kind: 'ipset', name: ipsetNames.take(g), set, comment: `group ${g}` });
    }
    if (model.internet.length)
      this.add({
        kind: 'ipset',
        name: ipsetNames.take('internet'),
        set: model.internet,
        comment: "cordon's internet: public space outside every declared network",
      });
    if (model.lan.length)
      this.add({ kind: 'ipset', name: ipsetNames.take('lan'), set: model.lan, comment: "cordon's lan: private space outside every declared network" });
  }

  private add(n: Named): void {
    if (n.kind === 'alias') this.aliases.push(n);
    else {
      // An IP set that is one prefix would duplicate an alias; one that equals another set is redundant.
      if (this.byKey.has(keyOf(n.set))) return;
      this.ipsets.push(n);
    }
    if (!this.byKey.has(keyOf(n.set))) this.byKey.set(keyOf(n.set), n);
  }

  /** The name standing for exactly this set. */
  lookup(set: RangeSet): Named | undefined {
    const n = this.byKey.get(keyOf(set));
    if (n?.kind === 'ipset') this.usedIpsets.add(n.name);
    return n;
  }

  /**
   * Names whose union is exactly this set, each a subset of it (largest first); undefined when
   * the names cannot cover it. Two or three names beat a list of prefixes.
   */
  cover(set: RangeSet, max = 3): Named[] | undefined {
    const subsets = [...this.byKey.values()].filter((n) => R.covers(set, n.set)).sort((a, b) => R.size(b.set) - R.size(a.set) || a.name.localeCompare(b.name));
    const picked: Named[] = [];
    let got: RangeSet = R.EMPTY;
    for (const n of subsets) {
      if (R.covers(got, n.set)) continue;
      picked.push(n);
      got = R.union(got, n.set);
      if (R.equal(got, set)) break;
      if (picked.length >= max) return undefined;
    }
    if (!R.equal(got, set)) return undefined;
    for (const n of picked) if (n.kind === 'ipset') this.usedIpsets.add(n.name);
    return picked;
  }

  /** IP sets a rule refers to, plus those standing for hosts and groups (small, and useful in the GUI). */
  ipsetsToDefine(): Named[] {
    return this.ipsets.filter((n) => this.usedIpsets.has(n.name) || !n.comment.startsWith("cordon's "));
  }
}

/** One address, or a prefix, as Proxmox writes it (`10.0.0.1`, `10.0.0.0/24`). */
export function fmtPrefix(addr: number, len: number): string {
  return len === 32 ? formatIPv4(addr) : formatCidr({ addr, len });
}

/** The prefixes of a set, as Proxmox writes them. */
export function prefixesOf(set: RangeSet): string[] {
  return set.flatMap(([lo, hi]) => rangeToCidrs({ lo, hi }).map((c) => fmtPrefix(c.addr, c.len)));
}
