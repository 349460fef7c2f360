/**
 * Ids added in runs and counted distinct at the end. Lint counts, per overlapped rule, the
 * earlier rules past the three its message names: millions of adds on a big spec, and a Set per
 * rule kept an entry for each (hundreds of MB, and most of the collector's work). The caller
 * keeps each run free of repeats (a stamp per id); repeats between runs go in one sort, when
 * counted.
 */
export class IdBag {
  private ids = new Int32Array(8);
  private len = 0;
  private runs = 0;
  private lastRun = Number.NaN;

  /** Adds `id` in run `run`; within one run an id is added at most once. */
  add(id: number, run: number): void {
    if (run !== this.lastRun) {
      this.lastRun = run;
      this.runs++;
    }
    if (this.len === this.ids.length) {
      const grown = new Int32Array(this.len * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.len++] = id;
  }

  /** How many different ids were added. */
  distinct(): number {
    if (this.runs <= 1) return this.len;
    const sorted = this.ids.slice(0, this.len).sort();
    let count = 0;
    for (let k = 0; k < sorted.length; k++) if (k === 0 || sorted[k] !== sorted[k - 1]) count++;
    return count;
  }
}
