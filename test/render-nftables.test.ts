/**
 * nftables target (the main one): goldens for every example under test/golden/<example>/nftables/,
 * byte-identical re-renders from two loads of the same spec, and every rendered file accepted by
 * the kernel's own parser (`nft -c -f`, inside `unshare -rn` so nothing on this machine changes).
 * The round trip (load, read back, same matrix) is test/roundtrip.test.ts; this file pins the text.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { findRenderer } from '../src/render/registry.js';
import type { Ir } from '../src/ir/types.js';
import type { RenderResult } from '../src/render/types.js';
import { exampleFiles, render } from './support/golden.js';
import { checkTargetGolden, loadExample } from './support/target-golden.js';
import { skipOrFail } from './support/require-env.js';

const EXAMPLES = exampleFiles().map(loadExample);
// The registry's renderer: the same guarded instance `cordon render` and `apply` use.
const NFTABLES = findRenderer('nftables')!;

function renderAll(ir: Ir): RenderResult {
  return render(NFTABLES, ir);
}

describe('nftables target: goldens', () => {
  it('is registered', () => assert.ok(NFTABLES, 'no nftables renderer in the registry'));

  for (const ex of EXAMPLES) {
    it(`${ex.name}: matches test/golden/${ex.name}/nftables/`, (t) => {
      if (!ex.ir) return t.skip('spec does not resolve');
      const result = renderAll(ex.ir);
      assert.ok(result.files.length > 0, `${ex.name}: nothing rendered`);
      checkTargetGolden(ex, 'nftables', result);
    });
  }

  it('renders the same bytes twice, from two loads of the same spec', () => {
    for (const ex of EXAMPLES) {
      if (!ex.ir) continue;
      const a = renderAll(ex.ir);
      const b = renderAll(loadExample(exampleFiles().find((f) => f.endsWith(`/${ex.name}.yaml`))!).ir!);
      assert.deepEqual(b.files, a.files, ex.name);
      assert.deepEqual(b.diagnostics, a.diagnostics, ex.name);
    }
  });
});

describe("nftables target: the kernel's own parser", () => {
  const unshare = spawnSync('unshare', ['-rn', 'nft', '--version'], { encoding: 'utf8' });
  for (const ex of EXAMPLES) {
    it(`${ex.name}: every file passes nft -c -f`, (t) => {
      if (unshare.status !== 0) return skipOrFail(t, `nft in unshare -rn unavailable: ${unshare.stderr || unshare.error?.message}`);
      if (!ex.ir) return t.skip('spec does not resolve');
      for (const f of renderAll(ex.ir).files) {
        const r = spawnSync('unshare', ['-rn', 'nft', '-c', '-f', '-'], { input: f.content, encoding: 'utf8' });
        assert.equal(r.status, 0, `${ex.name}/${f.path}: nft -c refused it:\n${r.stderr}`);
      }
    });
  }
});
