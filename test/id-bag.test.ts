/**
 * IdBag counts the distinct ids added, given what lint guarantees: no repeat within a run. Runs
 * repeat each other's ids (one spec rule's several IR rules, or chains, overlapping the same
 * earlier rules), which only the count's sort removes.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IdBag } from '../src/verify/id-bag.js';
import { assertProperty } from './support/seed.js';

describe('IdBag', () => {
  it('counts each id once, however many runs add it', () => {
    assertProperty(
      fc.property(fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 30 }), { maxLength: 12 }), (runs) => {
        const bag = new IdBag();
        const all = new Set<number>();
        runs.forEach((ids, run) => {
          for (const id of ids) {
            bag.add(id, run);
            all.add(id);
          }
        });
        assert.equal(bag.distinct(), all.size);
      }),
      { numRuns: 500 },
      951,
    );
  });

  it('grows past its first capacity and counts one run without sorting', () => {
    const bag = new IdBag();
    for (let id = 0; id < 1000; id++) bag.add(id, 7);
    assert.equal(bag.distinct(), 1000);
    bag.add(3, 8);
    assert.equal(bag.distinct(), 1000);
    bag.add(1000, 8);
    assert.equal(bag.distinct(), 1001);
  });
});
