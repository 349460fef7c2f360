/**
 * The compiler's span index (src/ir/span-index.ts) against a brute-force search, over random
 * range sets (every bucket width, starts far apart and close together).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SpanIndex } from '../src/ir/span-index.js';
import type { RangeSet } from '../src/util/rangeset.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomSet(next: () => number): RangeSet | undefined {
  if (next() < 0.1) return undefined;
  const out: [number, number][] = [];
  const n = Math.floor(next() * 4);
  for (let i = 0; i < n; i++) {
    // Near the top of the address space too: starts above 2^31 are where a packed key is largest.
    const lo = next() < 0.5 ? Math.floor(next() * 2 ** 32) : 0xffff0000 + Math.floor(next() * 0xffff);
    const width = Math.floor(2 ** (next() * 33)) - 1;
    out.push([lo, Math.min(0xffffffff, lo + width)]);
  }
  return out;
}

describe('SpanIndex', () => {
  it('finds exactly the items whose sets meet the query, ascending, each once', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const next = rng(seed);
      const sets = Array.from({ length: 300 }, () => randomSet(next));
      // Every bucket sorted by packed keys, and (a limit of 2 spans) nearly every one by starts.
      const indexes = [new SpanIndex(sets), new SpanIndex(sets, 2)];
      for (let q = 0; q < 30; q++) {
        const query = randomSet(next) ?? [[0, 0]];
        const want: number[] = [];
        sets.forEach((s, k) => {
          if (s?.some(([a, b]) => query.some(([c, d]) => a <= d && c <= b))) want.push(k);
        });
        for (const index of indexes) assert.deepEqual([...index.meeting(query)], want, `seed ${seed} query ${q}`);
      }
    }
  });
});
