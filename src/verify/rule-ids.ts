/**
 * Numbers for the spec rules behind IR rules: two origins name one spec rule when their file,
 * path, line and column are equal (the rules compiled from one spec rule share its origin, or a
 * copy of it). A key string of the four per origin, as lint built before, cost a concatenation
 * and the hashing of a long string (the file name is in it) for each of thousands of origins.
 */
import type { Origin } from '../model/types.js';

interface Entry {
  readonly file: string;
  readonly path: string;
  readonly col: number;
  readonly id: number;
}

/** A line's origins, in a list, or by column once there are many (a spec in JSON is one line). */
type Line = Entry[] | Map<number, Entry[]>;

/** Past this many origins on one line, they go by column. */
const LONG_LINE = 16;

export class RuleIds {
  /**
   * By line, for origins with a line: a line holds one rule, or a few (flow style, several
   * files). A map keyed by the origin objects, or by line and then column, cost more than this
   * (a hash made and stored in each of thousands of objects, a map per line).
   */
  private readonly byLine = new Map<number, Line>();
  /** The others (no line: they would all share one), by the four fields in one string. */
  private readonly byKey = new Map<string, number>();
  /** The origin last asked about: the rules compiled from one spec rule often come together. */
  private last: Origin | undefined;
  private lastId = -1;
  /** How many ids were given: they are 0 to size - 1. */
  size = 0;

  /** The id of o's spec rule, a new one when no origin of that rule was seen before. */
  id(o: Origin): number {
    if (o === this.last) return this.lastId;
    let id = this.lookup(o);
    if (id === undefined) {
      id = this.size++;
      if (o.line > 0) this.add(o.line, { file: o.file, path: o.path, col: o.col, id });
      else this.byKey.set(keyOf(o), id);
    }
    this.last = o;
    this.lastId = id;
    return id;
  }

  /** The id of o's spec rule, or undefined when no origin of it has one. */
  find(o: Origin): number | undefined {
    return o === this.last ? this.lastId : this.lookup(o);
  }

  private lookup(o: Origin): number | undefined {
    if (!(o.line > 0)) return this.byKey.get(keyOf(o));
    const at = this.byLine.get(o.line);
    if (at === undefined) return undefined;
    const list = Array.isArray(at) ? at : at.get(o.col);
    if (list === undefined) return undefined;
    for (let k = 0; k < list.length; k++) {
      const e = list[k]!;
      if (e.col === o.col && e.path === o.path && e.file === o.file) return e.id;
    }
    return undefined;
  }

  private add(line: number, e: Entry): void {
    const at = this.byLine.get(line);
    if (at === undefined) this.byLine.set(line, [e]);
    else if (!Array.isArray(at)) {
      const list = at.get(e.col);
      if (list) list.push(e);
      else at.set(e.col, [e]);
    } else if (at.length < LONG_LINE) at.push(e);
    else {
      const byCol = new Map<number, Entry[]>();
      this.byLine.set(line, byCol);
      for (const x of [...at, e]) {
        const list = byCol.get(x.col);
        if (list) list.push(x);
        else byCol.set(x.col, [x]);
      }
    }
  }
}

function keyOf(o: Origin): string {
  return `${o.file}\u0000${o.path}\u0000${o.line}\u0000${o.col}`;
}
