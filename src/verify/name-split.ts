/**
 * The rules of one address pair (same sources, same destinations) split by the interface or port
 * names they are limited to. A big chain starts with one drop per bridge and per isolated guest
 * port, all from anywhere to everything outside: a thousand rules in one pair, of which a query
 * meets the few on its own bridge and port. Without the split every query on those addresses
 * tested each of them.
 */
import type { Box, NameSet } from './box.js';
import type { IntBuffer } from '../util/int-buffer.js';

/** Which name set a rule is filed under: the first of port, iif, oif that lists names. */
const PORT = 0;
const IIF = 1;
const OIF = 2;

function setOf(b: Box, d: number): NameSet {
  return d === PORT ? b.port : d === IIF ? b.iif : b.oif;
}

function nameKey(s: NameSet): string {
  return `${s.neg ? '!' : ''}${s.names.join('\u0000')}`;
}

export class NameSplit {
  /** Rules with no positive name set: every query may meet them. */
  private readonly wild: number[] = [];
  /** Per dimension, every rule filed under it (for a query whose set there is negated). */
  private readonly filed: number[][] = [[], [], []];
  /** Per dimension, the rules filed under it by each name they list. */
  private readonly byName: Map<string, number[]>[] = [new Map<string, number[]>(), new Map<string, number[]>(), new Map<string, number[]>()];
  /**
   * The rules filed under port names, grouped by everything else (flow, state, interfaces): a
   * query matching every port meets all of a group or none, one test for hundreds of guests'
   * port-bound egress drops. Each group ascending.
   */
  readonly families: { readonly rep: number; readonly members: Int32Array }[] = [];

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
    const groups = new Map<string, number[]>();
    for (const j of this.filed[PORT]!) {
      const b = boxes[j]!;
      // No port at all: it meets nothing.
      if (b.port.names.length === 0) continue;
      const key = `${b.state}|${b.flow.join(';')}|${nameKey(b.iif)}|${nameKey(b.oif)}`;
      const g = groups.get(key);
      if (g) g.push(j);
      else groups.set(key, [j]);
    }
    for (const g of groups.values()) this.families.push({ rep: g[0]!, members: Int32Array.from(g) });
  }

  /**
   * Appends to `out`, once each, the rules whose names may meet box q's (a superset of those that
   * do: a rule filed under names q does not list cannot share a packet with q), in no particular
   * order. `stamp`/`mark`: a scratch array over rule indexes and a value not yet in it. With
   * `families`, when q matches every port, the rules filed under port names are not appended:
   * the indexes of their `families` are, instead.
   */
  candidates(q: Box, stamp: Int32Array, mark: number, out: IntBuffer, families?: IntBuffer): void {
    // Index loops: this runs before V8 optimises it, where for-of costs an iterator step per item.
    const wild = this.wild;
    for (let t = 0; t < wild.length; t++) out.push(wild[t]!);
    for (let d = PORT; d <= OIF; d++) {
      const s = setOf(q, d);
      if (d === PORT && families && s.neg && s.names.length === 0) {
        for (let f = 0; f < this.families.length; f++) families.push(f);
        continue;
      }
      if (s.neg) {
        const filed = this.filed[d]!;
        for (let t = 0; t < filed.length; t++) out.push(filed[t]!);
        continue;
      }
      const by = this.byName[d]!;
      for (let k = 0; k < s.names.length; k++) {
        const list = by.get(s.names[k]!);
        if (!list) continue;
        for (let t = 0; t < list.length; t++) {
          const j = list[t]!;
          // A rule listing several of q's names is filed under each.
          if (stamp[j] === mark) continue;
          stamp[j] = mark;
          out.push(j);
        }
      }
    }
  }
}
