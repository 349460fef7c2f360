/**
 * Numbers for the spec rules behind IR rules: two origins name one spec rule when their file,
 * path, line and column are equal (the rules compiled from one spec rule share its origin, or a
 * copy of it). A key string of the four per origin, as lint built before, cost a concatenation
 * and the hashing of a long string (the file name is in it) for each of thousands of origins.
 */
import type { Origin } from '../model/types.js';

/** Places (line, column) with a numeric key `line * COLS + col` when both are in range: exact below 2^53. */
const COLS = 2 ** 21;
const MAX_LINE = 2 ** 31;

interface Entry {
  readonly file: string;
  readonly path: string;
  readonly id: number;
}

export class RuleIds {
  private readonly byOrigin = new Map<Origin, number>();
  /** By place, for origins with a line: a place holds one rule, or a few (flow style, several files). */
  private readonly byPlace = new Map<number, Entry[]>();
  /** The others (no line: they would all share one place), by the four fields in one string. */
  private readonly byKey = new Map<string, number>();
  /** How many ids were given: they are 0 to size - 1. */
  size = 0;

  /** The id of o's spec rule, a new one when no origin of that rule was seen before. */
  id(o: Origin): number {
    const known = this.byOrigin.get(o);
    if (known !== undefined) return known;
    let id = this.lookup(o);
    if (id === undefined) {
      id = this.size++;
      const place = placeOf(o);
      if (place === undefined) this.byKey.set(keyOf(o), id);
      else {
        const list = this.byPlace.get(place);
        const entry = { file: o.file, path: o.path, id };
        if (list) list.push(entry);
        else this.byPlace.set(place, [entry]);
      }
    }
    this.byOrigin.set(o, id);
    return id;
  }

  /** The id of o's spec rule, or undefined when no origin of it has one. */
  find(o: Origin): number | undefined {
    return this.byOrigin.get(o) ?? this.lookup(o);
  }

  private lookup(o: Origin): number | undefined {
    const place = placeOf(o);
    if (place === undefined) return this.byKey.get(keyOf(o));
    const list = this.byPlace.get(place);
    if (!list) return undefined;
    for (let k = 0; k < list.length; k++) {
      const e = list[k]!;
      if (e.path === o.path && e.file === o.file) return e.id;
    }
    return undefined;
  }
}

function placeOf(o: Origin): number | undefined {
  const { line, col } = o;
  if (!(line > 0 && line < MAX_LINE && Number.isInteger(line) && col >= 0 && col < COLS && Number.isInteger(col))) return undefined;
  return line * COLS + col;
}

function keyOf(o: Origin): string {
  return `${o.file}\u0000${o.path}\u0000${o.line}\u0000${o.col}`;
}
