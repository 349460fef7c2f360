/** The fast matrix's typed-array searches and sort agree with plain definitions on random input. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { lowerBoundF64, lowerBoundI32, sortI32, upperBoundF64, upperBoundI32 } from '../src/verify/typed-search.js';

function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
}

describe('typed search and sort', () => {
  it('sortI32 sorts the prefix it is given and leaves the rest', () => {
    const r = rng(7);
    for (const n of [0, 1, 2, 3, 10, 24, 25, 26, 100, 1000, 5000]) {
      for (const range of [3, 50, 1e6]) {
        const a = Int32Array.from({ length: n + 5 }, () => Math.floor(r() * range) - Math.floor(range / 3));
        const want = [...a.subarray(0, n)].sort((x, y) => x - y);
        const rest = [...a.subarray(n)];
        sortI32(a, n);
        assert.deepEqual([...a.subarray(0, n)], want, `n ${n} range ${range}`);
        assert.deepEqual([...a.subarray(n)], rest);
      }
    }
    // Already sorted and reversed input (the pivot choice must not go quadratic or wrong).
    const up = Int32Array.from({ length: 3000 }, (_, i) => i);
    const down = Int32Array.from({ length: 3000 }, (_, i) => 3000 - i);
    sortI32(up, 3000);
    sortI32(down, 3000);
    assert.deepEqual(
      [...up],
      [...up].sort((x, y) => x - y),
    );
    assert.deepEqual(
      [...down],
      [...down].sort((x, y) => x - y),
    );
  });

  it('bounds agree with a linear scan', () => {
    const r = rng(11);
    for (let round = 0; round < 200; round++) {
      const n = Math.floor(r() * 40);
      const vals = Array.from({ length: n }, () => Math.floor(r() * 20)).sort((x, y) => x - y);
      const i32 = Int32Array.from(vals);
      const f64 = Float64Array.from(vals.map((v) => v * 2 ** 26));
      for (let x = -1; x <= 21; x++) {
        const lo = Math.floor(r() * (n + 1));
        const lower = (from: number): number => {
          let k = from;
          while (k < n && vals[k]! < x) k++;
          return k;
        };
        const upper = vals.findIndex((v) => v > x);
        assert.equal(lowerBoundI32(i32, x, lo), lower(lo));
        assert.equal(lowerBoundF64(f64, x * 2 ** 26, lo), lower(lo));
        assert.equal(upperBoundI32(i32, x), upper < 0 ? n : upper);
        assert.equal(upperBoundF64(f64, x * 2 ** 26), upper < 0 ? n : upper);
      }
    }
  });
});
