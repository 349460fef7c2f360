/**
 * The rules of one address pair (same sources, same destinations) split by the interface or port
 * names they are limited to. A big chain starts with one drop per bridge and per isolated guest
 * port, all from anywhere to everything outside: a thousand rules in one pair, of which a query
 * meets the few on its own bridge and port. Without the split every query on those addresses
 * tested each of them.
 */
import type { Box, NameSet } from './box.js';

/** Which name set a rule is filed under: the first of port, iif, oif that lists names. */
const PORT = 0;
const IIF = 1;
const OIF = 2;

function setOf(b: Box, d: number): NameSet {
  return d === PORT ? b.port : d === IIF ? b.iif : b.oif;
}

export class NameSplit {
  /** Rules with no positive name set: every query may meet them. */
  private readonly wild: number[] = [];
  /** Per dimension, every rule filed under it (for a query whose set there is negated). */
  private readonly filed: number[][] = [[], [], []];
  /** Per dimension, the rules filed under it by each name they list. */
  private readonly byName: Map<string, number[]>[] = [new Map<string, number[]>(), new Map<string, number[]>(), new Map<string, number[]>()];

  /** `rules`: indexes into `boxes`, ascending. */
  constructor(boxes: readonly Box[], rules: readonly number[]) {
    for (const j of rules) {
      const b = boxes[j]!;
      const d = !b.port.neg ? PORT : !b.iif.neg ? IIF : !b.oif.neg ? OIF : -1;
      if (d < 0) {
        this.wild.push(j);
        continue;
      }
      this.filed[d]!.push(j);
      const by = this.byName[d]!;
      for (const x of setOf(b, d).names) {
        const list = by.get(x);
        if (list) list.push(j);
        else by.set(x, [j]);
      }
    }
  }

  /**
   * Appends to `out`, once each, the rules whose names may meet box q's (a superset of those that
   * do: a rule filed under names q does not list cannot share a packet with q), in no particular
   * order. `stamp`/`mark`: a scratch array over rule indexes and a value not yet in it.
   */
  candidates(q: Box, stamp: Int32Array, mark: number, out: number[]): void {
    for (const j of this.wild) out.push(j);
    for (let d = PORT; d <= OIF; d++) {
      const s = setOf(q, d);
      if (s.neg) {
        for (const j of this.filed[d]!) out.push(j);
        continue;
      }
      const by = this.byName[d]!;
      for (const x of s.names) {
        const list = by.get(x);
        if (!list) continue;
        for (const j of list) {
          // A rule listing several of q's names is filed under each.
          if (stamp[j] === mark) continue;
          stamp[j] = mark;
          out.push(j);
        }
      }
    }
  }
}
