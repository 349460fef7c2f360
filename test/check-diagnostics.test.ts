/**
 * `cordon check` reports the compiler's diagnostics without compiling (compileDiagnostics); they
 * must be exactly those `compile` gives, on every example and on a model whose hand-written chain
 * has no host to sit on (the one case that warns).
 */
import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compile, compileDiagnostics } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';

const files = ['examples', 'examples/mistakes'].flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(d, f)),
);

describe('compileDiagnostics', () => {
  for (const file of files) {
    it(`equals compile's diagnostics on ${file}`, () => {
      const r = loadModel(file);
      if (!r.model) return; // a mistake that does not resolve: check stops before compiling
      assert.deepEqual(compileDiagnostics(r.model), compile(r.model).diagnostics);
    });
  }
  it('warns, as compile does, about a hand-written chain whose host is gone', () => {
    const r = loadModel('examples/mistakes/libvirt-ssh-to-any.yaml');
    assert.ok(r.model);
    const fw = [...r.model.firewalls.values()][0];
    assert.ok(fw);
    const hosts = new Map(r.model.hosts);
    hosts.delete(fw.host);
    const model = { ...r.model, hosts };
    const want = compile(model).diagnostics;
    assert.ok(
      want.some((d) => d.code === 'CORDON039'),
      'compile warns',
    );
    assert.deepEqual(compileDiagnostics(model), want);
  });
});
