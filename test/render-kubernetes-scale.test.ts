/**
 * kubernetes target on generated specs: the renderer must write exactly what the old, slow
 * algorithm wrote (test/support/kubernetes-reference.ts), byte for byte, with the same
 * diagnostics in the same order. The examples' goldens cover the hand-written cases; these
 * cover overlapping network, group, CIDR, internet, lan and `any` rules at a few sizes and seeds,
 * where a wrong cache key or a rule the per-host index leaves out would change the output.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { generateSpec } from '../src/gen/generate.js';
import { kubernetesRenderer } from '../src/render/kubernetes/index.js';
import { irOfText, render } from './support/golden.js';
import { referenceKubernetesRenderer } from './support/kubernetes-reference.js';

const CASES = [
  { hosts: 20, rules: 200, seed: 1 },
  { hosts: 30, rules: 300, seed: 2 },
  { hosts: 40, rules: 400, seed: 3 },
  { hosts: 60, rules: 600, seed: 1 },
  // More rules than hosts usually have: many rules per host, long first-match lists.
  { hosts: 20, rules: 800, seed: 4 },
];

describe('kubernetes target: generated specs render as the reference algorithm did', () => {
  for (const c of CASES) {
    it(`gen --hosts ${c.hosts} --rules ${c.rules} --seed ${c.seed}: same files, same diagnostics`, () => {
      const ir = irOfText(generateSpec(c), `gen-${c.hosts}.yaml`);
      const got = render(kubernetesRenderer, ir);
      const want = render(referenceKubernetesRenderer, ir);
      assert.equal(want.files.length, 2, 'the reference renders both files');
      assert.deepEqual(
        got.files.map((f) => f.path),
        want.files.map((f) => f.path),
      );
      for (const [i, f] of want.files.entries()) {
        const g = got.files[i]!;
        if (g.content !== f.content) {
          // Say where, not 5 MB of diff.
          const a = g.content.split('\n');
          const b = f.content.split('\n');
          const at = a.findIndex((line, n) => line !== b[n]);
          assert.fail(`${f.path}: first difference at line ${at + 1}:\n  got:  ${a[at]}\n  want: ${b[at]}`);
        }
        assert.equal(g.secret, f.secret);
      }
      assert.deepEqual(got.diagnostics, want.diagnostics);
    });
  }
});
