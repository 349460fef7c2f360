/**
 * localeOrder (src/util/collate.ts) against localeCompare: the same sign for every pair, over
 * names of the plain characters it orders itself and of others it leaves to the collator.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { sortDiagnostics, type Diagnostic } from '../src/diag/diagnostic.js';
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

describe('sortDiagnostics', () => {
  it('orders as comparing file and code with localeCompare does', () => {
    const next = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    // Codes of other lengths and a non-code, and file names the collator orders unlike code units.
    const codes = ['CORDON030', 'CORDON031', 'CORDON032', 'CORDON003', 'CORDON0300', 'CORDON1', 'CORDON99', 'CORDONX', 'cordon031', 'LINT'];
    const files = ['spec.yaml', 'Spec.yaml', 'b/spec.yaml', 'a-b.yaml', 'a_b.yaml', 'ab.yaml'];
    for (let round = 0; round < 200; round++) {
      const ds: Diagnostic[] = Array.from({ length: 40 }, (_, k) => ({
        code: pick(codes) as Diagnostic['code'],
        severity: 'info',
        message: String(k),
        file: pick(files),
        line: Math.floor(next() * 3),
        col: Math.floor(next() * 2),
        path: '',
      }));
      const want = [...ds].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.code.localeCompare(b.code));
      assert.deepEqual(
        sortDiagnostics(ds).map((d) => d.message),
        want.map((d) => d.message),
      );
    }
  });
});
