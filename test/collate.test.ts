/**
 * localeOrder (src/util/collate.ts) against localeCompare: the same sign for every pair, over
 * names of the plain characters it orders itself and of others it leaves to the collator.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { localeOrder } from '../src/util/collate.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('localeOrder', () => {
  it('has the sign of localeCompare', () => {
    const next = rng(3);
    // Few characters, so that long shared prefixes and equal names come up often.
    for (const alphabet of ['ab19-z0:', 'abcdefghijklmnopqrstuvwxyz0123456789-:', 'ab1-:A_.é ']) {
      const word = (): string => Array.from({ length: Math.floor(next() * 8) }, () => alphabet[Math.floor(next() * alphabet.length)]!).join('');
      for (let i = 0; i < 50_000; i++) {
        const a = word();
        const b = next() < 0.1 ? a : word();
        assert.equal(Math.sign(localeOrder(a, b)), Math.sign(a.localeCompare(b)), `${JSON.stringify(a)} ${JSON.stringify(b)}`);
      }
    }
  });
  it('orders what code units would not: ":" before digits, "-" before ":"', () => {
    const names = ['pve1:input', 'pve10:input', 'pve1-a:input', 'pve:x', 'pve0'];
    assert.deepEqual(
      [...names].sort(localeOrder),
      [...names].sort((a, b) => a.localeCompare(b)),
    );
    assert.notDeepEqual([...names].sort(localeOrder), [...names].sort());
  });
});
