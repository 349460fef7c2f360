/** Address sets of the built-in endpoints and of resolved targets. */
import { ANY_ADDRESS, cidrRange, parseCidr } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import type { Model, Target } from './types.js';

function cidrSet(list: readonly string[]): RangeSet {
  return R.normalize(
    list.map((c) => {
      const r = cidrRange(parseCidr(c)!);
      return [r.lo, r.hi] as const;
    }),
  );
}

/** RFC 1918 private space: where an owner's LAN lives. */
export const PRIVATE = cidrSet(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);

/**
 * Space that is never "the internet": private, CGNAT, loopback, link-local, multicast, reserved,
 * "this network". TEST-NET ranges stay internet on purpose: the lab's internet lives there.
 */
export const NOT_INTERNET = R.union(PRIVATE, cidrSet(['0.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4']));

/** Every address (the one constant lives in util/ip.ts). */
export const ALL: RangeSet = ANY_ADDRESS;

export function internetSpace(declared: RangeSet): RangeSet {
  return R.subtract(R.subtract(ALL, NOT_INTERNET), declared);
}

export function lanSpace(declared: RangeSet): RangeSet {
  return R.subtract(PRIVATE, declared);
}

/** All addresses a target stands for. */
export function targetAddrs(model: Model, t: Target): RangeSet {
  switch (t.kind) {
    case 'host':
    case 'service': {
      const h = model.hosts.get(t.host);
      return h ? R.normalize(h.nics.map((n) => [n.address, n.address] as const)) : R.EMPTY;
    }
    case 'network': {
      const n = model.networks.get(t.network) ?? model.tunnels.get(t.network);
      return n ? [[n.range.lo, n.range.hi]] : R.EMPTY;
    }
    case 'cidr':
      return [[t.range.lo, t.range.hi]];
    case 'internet':
      return model.internet;
    case 'lan':
      return model.lan;
    case 'any':
      return ALL;
  }
}

export function targetsAddrs(model: Model, ts: readonly Target[]): RangeSet {
  let out: RangeSet = R.EMPTY;
  for (const t of ts) out = R.union(out, targetAddrs(model, t));
  return out;
}
