/**
 * The diagnostic code table (src/diag/codes.ts) against what the code emits and what the docs say:
 * docs/DIAGNOSTICS.md is exactly the table (UPDATE_GOLDEN=1 rewrites it, then fails: review the
 * diff); every code written in src/ is in the table; every code in the table is emitted somewhere
 * in src/; and every diagnostic the examples and the broken inputs produce (check, compile, lint,
 * every render target) has a severity its entry lists.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { Code, DIAG_CODES, lookupCode, RETIRED, type DiagCode } from '../src/diag/codes.js';
import type { Diagnostic } from '../src/diag/diagnostic.js';
import { diagnosticsMarkdown } from '../src/diag/doc.js';
import { compile } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';
import { RENDERERS } from '../src/render/registry.js';
import { lint } from '../src/verify/lint.js';
import { checkGoldenFile, exampleFiles, ROOT } from './support/golden.js';

const CODES = Object.keys(DIAG_CODES) as DiagCode[];
const CODES_FILE = join(ROOT, 'src/diag/codes.ts');

function tsFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((e) => {
      const p = join(dir, e);
      return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
    })
    .sort();
}

const SOURCES = tsFiles(join(ROOT, 'src'))
  .filter((f) => f !== CODES_FILE)
  .map((f) => ({ file: relative(ROOT, f), text: readFileSync(f, 'utf8') }));

describe('diagnostic codes', () => {
  it('docs/DIAGNOSTICS.md is the table of src/diag/codes.ts', () => {
    checkGoldenFile(join(ROOT, 'docs/DIAGNOSTICS.md'), diagnosticsMarkdown());
  });

  it('the README links to docs/DIAGNOSTICS.md', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.ok(/\]\(docs\/DIAGNOSTICS\.md(#[a-z0-9]+)?\)/.test(readme), 'README.md has no link to docs/DIAGNOSTICS.md');
  });

  it('every code named anywhere in src/ is in the table, and none is retired', () => {
    const unknown: string[] = [];
    for (const { file, text } of SOURCES)
      for (const m of text.matchAll(/\bCORDON\d+\b/g)) if (!Object.hasOwn(DIAG_CODES, m[0]) || RETIRED.includes(m[0])) unknown.push(`${file}: ${m[0]}`);
    assert.deepEqual(unknown, []);
    for (const c of RETIRED) assert.ok(!Object.hasOwn(DIAG_CODES, c), `${c} is retired but in the table`);
  });

  it('emitters use the named constants: no code is written as a string literal outside codes.ts', () => {
    const literals = SOURCES.flatMap(({ file, text }) => [...text.matchAll(/['"`]CORDON\d+['"`]/g)].map((m) => `${file}: ${m[0]}`));
    assert.deepEqual(literals, []);
  });

  it('every code in the table is emitted somewhere in src/ (as Code.NAME)', () => {
    const all = SOURCES.map((s) => s.text).join('\n');
    const unused = CODES.filter((c) => !new RegExp(`\\bCode\\.${DIAG_CODES[c].name}\\b`).test(all));
    assert.deepEqual(unused, [], 'documented codes that nothing emits: remove them (and add the number to RETIRED)');
  });

  it('CORDON012 is emitted only by render targets', () => {
    const outside = SOURCES.filter(({ file, text }) => !file.startsWith('src/render/') && text.includes('Code.TARGET_CANNOT_EXPRESS')).map((s) => s.file);
    assert.deepEqual(outside, []);
  });

  it('names are unique, upper snake case, and Code maps each back to its number', () => {
    const names = CODES.map((c) => DIAG_CODES[c].name);
    assert.equal(new Set(names).size, names.length);
    for (const c of CODES) {
      assert.match(c, /^CORDON\d{3}$/);
      assert.match(DIAG_CODES[c].name, /^[A-Z][A-Z0-9_]*$/);
      assert.equal((Code as Record<string, string>)[DIAG_CODES[c].name], c);
      for (const f of ['title', 'meaning', 'fix', 'example'] as const) assert.ok(DIAG_CODES[c][f].trim().length > 0, `${c}.${f} is empty`);
    }
  });

  it('lookupCode accepts CORDON012, cordon012, 012 and 12, and nothing else', () => {
    for (const t of ['CORDON012', 'cordon012', '012', '12', ' CORDON012 ']) assert.equal(lookupCode(t)?.code, 'CORDON012', t);
    for (const t of ['CORDON020', 'CORDON999', 'CORDON', '', 'x12', 'toString', '__proto__']) assert.equal(lookupCode(t), undefined, t);
  });

  it('every diagnostic of the examples and the broken inputs has a severity its code lists', () => {
    const ds: Diagnostic[] = [];
    const bad = readdirSync(join(ROOT, 'test/bad'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(ROOT, 'test/bad', f));
    for (const file of [...exampleFiles(), ...bad]) {
      const r = loadModel(file);
      ds.push(...r.diagnostics);
      if (!r.model) continue;
      const ir = compile(r.model);
      ds.push(...ir.diagnostics, ...lint(ir));
      for (const renderer of RENDERERS) ds.push(...renderer.render(ir, { host: undefined, params: new Map() }).diagnostics);
    }
    const seen = new Set(ds.map((d) => d.code));
    // The sweep must reach the codes it is about: the spec errors and the targets' refusals.
    for (const c of ['CORDON002', 'CORDON003', 'CORDON004', 'CORDON012', 'CORDON038']) assert.ok(seen.has(c as DiagCode), `no ${c} seen`);
    const wrong = ds.filter((d) => !(DIAG_CODES[d.code].severities as readonly string[]).includes(d.severity));
    assert.deepEqual(
      wrong.map((d) => `${d.code} ${d.severity}: ${d.message}`),
      [],
    );
  });
});
