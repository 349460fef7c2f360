/**
 * Ids added in runs and counted distinct at the end. Lint counts, per overlapped rule, the
 * earlier rules past the three its message names: millions of adds on a big spec, and a Set per
 * rule kept an entry for each (hundreds of MB, and most of the collector's work). The caller
 * keeps each run free of repeats (a stamp per id); repeats between runs go in one sort, when
 * counted.
 */
import { IntBuffer } from '../util/int-buffer.js';

export class IdBag {
  private readonly ids = new IntBuffer(8);
  private runs = 0;
  private lastRun = Number.NaN;

  /** Adds `id` in run `run`; within one run an id is added at most once. */
  add(id: number, run: number): void {
    if (run !== this.lastRun) {
      this.lastRun = run;
      this.runs++;
    }
    this.ids.push(id);
  }

  /** How many different ids were added. */
  distinct(): number {
    if (this.runs <= 1) return this.ids.length;
    const sorted = this.ids.sorted();
    let count = 0;
    for (let k = 0; k < sorted.length; k++) if (k === 0 || sorted[k] !== sorted[k - 1]) count++;
    return count;
  }
}
