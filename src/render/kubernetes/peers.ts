/**
 * The set algebra the kubernetes target needs to turn first-match policy into allow-only lists:
 * sets of peers (declared hosts as pods, every other pod, addresses outside the cluster) and
 * "pieces" (peers × flows), with union, intersection and subtraction that stay exact.
 */
import { ALL_FLOWS, flowEqual, flowIntersect, flowIsEmpty, flowSubtract, flowUnion, type FlowSet } from '../../util/flows.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { ANY_ADDRESS } from '../../util/ip.js';

/** Pods and addresses. With `allPods`, `pods` lists the hosts left out; without, the hosts included. */
export interface Peers {
  readonly allPods: boolean;
  readonly pods: ReadonlySet<string>;
  /** Addresses outside the cluster (ipBlock / toCIDRSet). */
  readonly ext: RangeSet;
}

export const NO_PEERS: Peers = { allPods: false, pods: new Set(), ext: R.EMPTY };
export const ALL_PEERS: Peers = { allPods: true, pods: new Set(), ext: ANY_ADDRESS };

function setUnion(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a, ...b]);
}
function setInter(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a].filter((x) => b.has(x)));
}
function setMinus(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a].filter((x) => !b.has(x)));
}

export function peersUnion(a: Peers, b: Peers): Peers {
  const ext = R.union(a.ext, b.ext);
  if (a.allPods && b.allPods) return { allPods: true, pods: setInter(a.pods, b.pods), ext };
  if (a.allPods) return { allPods: true, pods: setMinus(a.pods, b.pods), ext };
  if (b.allPods) return { allPods: true, pods: setMinus(b.pods, a.pods), ext };
  return { allPods: false, pods: setUnion(a.pods, b.pods), ext };
}

export function peersIntersect(a: Peers, b: Peers): Peers {
  const ext = R.intersect(a.ext, b.ext);
  if (a.allPods && b.allPods) return { allPods: true, pods: setUnion(a.pods, b.pods), ext };
  if (a.allPods) return { allPods: false, pods: setMinus(b.pods, a.pods), ext };
  if (b.allPods) return { allPods: false, pods: setMinus(a.pods, b.pods), ext };
  return { allPods: false, pods: setInter(a.pods, b.pods), ext };
}

export function peersSubtract(a: Peers, b: Peers): Peers {
  const notB: Peers = { allPods: !b.allPods, pods: b.pods, ext: R.EMPTY };
  const pods = peersIntersect({ ...a, ext: R.EMPTY }, notB);
  return { ...pods, ext: R.subtract(a.ext, b.ext) };
}

export function peersIsEmpty(a: Peers): boolean {
  return !a.allPods && a.pods.size === 0 && a.ext.length === 0;
}

export function peersEqual(a: Peers, b: Peers): boolean {
  return a.allPods === b.allPods && a.pods.size === b.pods.size && [...a.pods].every((p) => b.pods.has(p)) && R.equal(a.ext, b.ext);
}

export function hasPod(a: Peers, host: string): boolean {
  return a.allPods ? !a.pods.has(host) : a.pods.has(host);
}

/** Peers × flows, with the policy rules whose deny cut it (for diagnostics). */
export interface Piece {
  readonly peers: Peers;
  readonly flows: FlowSet;
  /** Indexes of deny (or, for Cilium denies, allow) rules subtracted from this piece's flows. */
  readonly cutBy: readonly number[];
}

/** a − b as at most two pieces: the peers b does not name, and the shared peers with b's flows removed. */
export function pieceSubtract(a: Piece, b: Piece, by: number): Piece[] {
  const shared = peersIntersect(a.peers, b.peers);
  if (peersIsEmpty(shared) || flowIsEmpty(flowIntersect(a.flows, b.flows))) return [a];
  const out: Piece[] = [];
  const rest = peersSubtract(a.peers, b.peers);
  if (!peersIsEmpty(rest)) out.push({ ...a, peers: rest });
  const flows = flowSubtract(a.flows, b.flows);
  if (!flowIsEmpty(flows)) out.push({ peers: shared, flows, cutBy: [...new Set([...a.cutBy, by])].sort((x, y) => x - y) });
  return out;
}

/** a ∩ b, or undefined when they share nothing. */
export function pieceIntersect(a: Piece, b: Piece): Piece | undefined {
  const peers = peersIntersect(a.peers, b.peers);
  const flows = flowIntersect(a.flows, b.flows);
  if (peersIsEmpty(peers) || flowIsEmpty(flows)) return undefined;
  return { peers, flows, cutBy: a.cutBy };
}

/** Merges pieces with equal flows (peers united) and then equal peers (flows united); order kept by first appearance. */
export function mergePieces(pieces: readonly Piece[]): Piece[] {
  const byFlows: Piece[] = [];
  for (const p of pieces) {
    const same = byFlows.findIndex((q) => flowEqual(q.flows, p.flows));
    if (same >= 0)
      byFlows[same] = {
        peers: peersUnion(byFlows[same]!.peers, p.peers),
        flows: p.flows,
        cutBy: [...new Set([...byFlows[same]!.cutBy, ...p.cutBy])].sort((x, y) => x - y),
      };
    else byFlows.push(p);
  }
  const out: Piece[] = [];
  for (const p of byFlows) {
    const same = out.findIndex((q) => peersEqual(q.peers, p.peers));
    if (same >= 0)
      out[same] = { peers: p.peers, flows: flowUnion(out[same]!.flows, p.flows), cutBy: [...new Set([...out[same]!.cutBy, ...p.cutBy])].sort((x, y) => x - y) };
    else out.push(p);
  }
  return out;
}

export function isAllFlows(f: FlowSet): boolean {
  return flowEqual(f, ALL_FLOWS);
}
