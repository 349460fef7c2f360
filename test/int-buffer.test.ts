import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IntBuffer } from '../src/util/int-buffer.js';
import { assertProperty } from './support/seed.js';

describe('IntBuffer', () => {
  it('gives what was pushed since the last clear, ascending, in a copy of its own', () => {
    assertProperty(
      fc.property(
        fc.array(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 8 }),
        (runs, capacity) => {
          const buf = new IntBuffer(capacity);
          const copies: [Int32Array, number[]][] = [];
          for (const run of runs) {
            buf.clear();
            for (const x of run) buf.push(x);
            assert.equal(buf.length, run.length);
            assert.deepEqual([...buf.view()], run, 'in the order pushed');
            copies.push([buf.sorted(), [...run].sort((a, b) => a - b)]);
          }
          // Each copy stays as it was when taken, whatever was pushed after it.
          for (const [got, want] of copies) assert.deepEqual([...got], want);
        },
      ),
      { numRuns: 200 },
      1101,
    );
  });
});
