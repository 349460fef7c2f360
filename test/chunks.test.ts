/** Typed arrays cut from shared chunks (src/verify/chunks.ts): zero-filled, never overlapping. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { I32Chunks, U32Chunks } from '../src/util/chunks.js';

describe('typed-array chunks', () => {
  it('hands out zero-filled arrays of the asked length that never share memory', () => {
    for (const words of [1, 7, 64]) {
      const ints = new I32Chunks(words);
      const uints = new U32Chunks(words);
      const got: { a: Int32Array | Uint32Array; fill: number }[] = [];
      for (let n = 0; n < 40; n++) {
        const len = (n * 5) % 13;
        const a = n % 2 ? ints.take(len) : uints.take(len);
        assert.equal(a.length, len);
        assert.ok(
          a.every((x) => x === 0),
          `zero-filled (words ${words}, n ${n})`,
        );
        a.fill(n + 1);
        got.push({ a, fill: n + 1 });
      }
      // Writing every array after the others were written left each with its own value only.
      for (const { a, fill } of got)
        assert.ok(
          a.every((x) => x === fill),
          `words ${words}`,
        );
    }
  });

  it('copies the first n ints', () => {
    const ints = new I32Chunks(8);
    const src = Int32Array.from([5, -3, 9, 2, 7]);
    const c = ints.copy(src, 3);
    assert.deepEqual([...c], [5, -3, 9]);
    src[0] = 1;
    assert.equal(c[0], 5);
    const d = ints.copy(src, 5);
    assert.deepEqual([...d], [1, -3, 9, 2, 7]);
    assert.deepEqual([...c], [5, -3, 9]);
  });
});
