/**
 * `cordon diff`: which flows a new version of a spec adds or removes, by comparing the two
 * all-pairs matrices cell by cell. Endpoints are matched by name: a host renamed between versions
 * shows up as one endpoint removed and one added, with every flow of the old name removed and
 * every flow of the new name added.
 *
 * Pure: two matrices in, a value out. Rendering lives in `report/diff.ts`.
 */
import type { Assume } from '../model/types.js';
import { flowIsEmpty, flowSubtract, NO_FLOWS, type FlowSet } from '../util/flows.js';
import type { Endpoint } from './endpoints.js';
import type { Matrix } from './matrix.js';

/** One endpoint that exists in only one of the two versions. */
export interface EndpointChange {
  readonly name: string;
  /** `host` for a declared host, `zone` for the built-in `internet` / `lan`. */
  readonly kind: 'host' | 'zone';
}

/** One ordered (from, to) pair whose allowed flows differ. At least one of the two sets is non-empty. */
export interface PairChange {
  readonly from: string;
  readonly to: string;
  /** Flows the new version allows and the old one does not. */
  readonly added: FlowSet;
  /** Flows the old version allows and the new one does not. */
  readonly removed: FlowSet;
}

export interface MatrixDiff {
  readonly assume: Assume;
  /** Endpoints only in the new version, in matrix order. */
  readonly endpointsAdded: readonly EndpointChange[];
  /** Endpoints only in the old version, in matrix order. */
  readonly endpointsRemoved: readonly EndpointChange[];
  /** Changed pairs, sorted by source then destination (hosts by name, then internet, then lan). */
  readonly changes: readonly PairChange[];
}

/** True when the two versions differ in any endpoint or any flow. */
export function hasChanges(d: MatrixDiff): boolean {
  return d.endpointsAdded.length > 0 || d.endpointsRemoved.length > 0 || d.changes.length > 0;
}

/**
 * Compares two matrices computed under the same assumption. A pair present in only one version
 * counts as allowing nothing in the other, so a new host's flows are all "added".
 */
export function diffMatrices(oldM: Matrix, newM: Matrix): MatrixDiff {
  if (oldM.assume !== newM.assume) {
    throw new Error(`diffMatrices: cannot compare a ${oldM.assume} matrix with a ${newM.assume} one`);
  }
  const oldIdx = indexByName(oldM.endpoints);
  const newIdx = indexByName(newM.endpoints);
  const all = new Map<string, Endpoint>();
  for (const e of oldM.endpoints) all.set(e.name, e);
  for (const e of newM.endpoints) all.set(e.name, e);
  const names = [...all.values()].sort(compareEndpoints).map((e) => e.name);

  const kindOf = (e: Endpoint): EndpointChange['kind'] => (e.source.kind === 'host' ? 'host' : 'zone');
  const endpointsAdded = newM.endpoints
    .filter((e) => !oldIdx.has(e.name))
    .sort(compareEndpoints)
    .map((e) => ({ name: e.name, kind: kindOf(e) }));
  const endpointsRemoved = oldM.endpoints
    .filter((e) => !newIdx.has(e.name))
    .sort(compareEndpoints)
    .map((e) => ({ name: e.name, kind: kindOf(e) }));

  const changes: PairChange[] = [];
  for (const from of names) {
    for (const to of names) {
      if (from === to) continue;
      const before = cell(oldM, oldIdx, from, to);
      const after = cell(newM, newIdx, from, to);
      const added = flowSubtract(after, before);
      const removed = flowSubtract(before, after);
      if (!flowIsEmpty(added) || !flowIsEmpty(removed)) changes.push({ from, to, added, removed });
    }
  }
  return { assume: newM.assume, endpointsAdded, endpointsRemoved, changes };
}

function indexByName(eps: readonly Endpoint[]): Map<string, number> {
  return new Map(eps.map((e, i) => [e.name, i]));
}

function cell(m: Matrix, idx: ReadonlyMap<string, number>, from: string, to: string): FlowSet {
  const i = idx.get(from);
  const j = idx.get(to);
  if (i === undefined || j === undefined) return NO_FLOWS;
  return m.cells[i]?.[j] ?? NO_FLOWS;
}

/** Matrix order: hosts by name, then the zones (internet before lan). */
function compareEndpoints(a: Endpoint, b: Endpoint): number {
  return rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function rank(e: Endpoint): number {
  if (e.source.kind === 'host') return 0;
  return e.source.zone === 'internet' ? 1 : 2;
}
