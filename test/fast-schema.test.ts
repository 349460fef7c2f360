/**
 * The fast walk of the spec schema (src/spec/fast-schema.ts) against zod's own parse: wherever it
 * answers, zod accepts the same document and gives the same value, with keys in the same order;
 * on a document zod rejects it never answers (zod's issues are what the user is told). Checked on
 * the repository's examples and broken specs, on `cordon gen` output (which it must answer: that
 * is the speed-up) and on thousands of random edits of a generated spec.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { generateSpec } from '../src/gen/generate.js';
import { tableParser } from '../src/spec/fast-schema.js';
import { parseYamlText } from '../src/spec/parse.js';
import { SCHEMA_RULES, SpecSchema } from '../src/spec/schema.js';
import { describeSchema, fastParser, schemaTableModule } from '../src/spec/schema-describe.js';
import { SPEC_TABLE } from '../src/spec/schema-table.js';
import { checkGoldenFile } from './support/golden.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What parseSpecText runs: the walk of the committed table (the first test proves it is the schema's). */
const fast = tableParser(SPEC_TABLE);

function yamlData(text: string): unknown {
  const y = parseYamlText(text, 'x.yaml');
  return y.ok ? y.data : undefined;
}

/** Same value and the same key order everywhere (deepStrictEqual does not look at order). */
function assertSame(actual: unknown, expected: unknown, what: string): void {
  assert.deepStrictEqual(actual, expected, what);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), `${what}: key order`);
}

/** Compares the two on one document; says whether zod accepted it. */
function compare(data: unknown, what: string): boolean {
  const z = SpecSchema.safeParse(data);
  const f = fast(data);
  if (!z.success) {
    assert.equal(f, undefined, `${what}: zod rejects it, the fast walk must not answer`);
    return false;
  }
  if (f !== undefined) assertSame(f, z.data, what);
  return true;
}

function specFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? specFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
  );
}

describe('fast schema walk', () => {
  it('walks a table that is exactly the zod schema: src/spec/schema-table.ts is describeSchema(SpecSchema)', () => {
    // Any change to src/spec/schema.ts (a field, a bound, a regex, a refinement) changes the table:
    // the committed one must be regenerated (UPDATE_GOLDEN=1) or valid specs would be judged by
    // an old copy of the schema.
    checkGoldenFile(join(ROOT, 'src/spec/schema-table.ts'), schemaTableModule(describeSchema(SpecSchema, SCHEMA_RULES)));
    assert.deepStrictEqual(SPEC_TABLE, describeSchema(SpecSchema, SCHEMA_RULES));
    // Every identifier refinement of the schema is walked by the fast path's own copy of it; only
    // the guard's webhook checks (rare in specs) are left to zod.
    const kinds = JSON.stringify(SPEC_TABLE).match(/"k":"(rule|unsure)"/g) ?? [];
    assert.equal(kinds.filter((k) => k.includes('rule')).length, 4, JSON.stringify(kinds));
    assert.equal(kinds.filter((k) => k.includes('unsure')).length, 2, JSON.stringify(kinds));
  });

  it('answers every valid example and generated spec with zod’s value, keys in zod’s order', () => {
    const texts = [
      ...specFiles(join(ROOT, 'examples')).map((f) => ({ what: f, text: readFileSync(f, 'utf8') })),
      ...[1, 2, 3].map((seed) => ({ what: `gen seed ${seed}`, text: generateSpec({ hosts: 120, rules: 600, seed }) })),
    ];
    let valid = 0;
    for (const { what, text } of texts) {
      const data = yamlData(text);
      if (data === undefined) continue;
      const z = SpecSchema.safeParse(data);
      if (!z.success) continue; // a sandbox config or a broken example: the next test's business
      valid++;
      const f = fast(data);
      assert.notEqual(f, undefined, `${what}: valid, so the fast walk must answer`);
      assertSame(f, z.data, what);
    }
    assert.ok(valid >= 10, `only ${valid} valid specs found`);
  });

  it('never answers a broken spec of test/bad (zod reports it)', () => {
    let rejected = 0;
    for (const f of specFiles(join(ROOT, 'test/bad'))) {
      const data = yamlData(readFileSync(f, 'utf8'));
      if (data === undefined || data === null) continue;
      if (!compare(data, f)) rejected++;
    }
    assert.ok(rejected >= 10, `only ${rejected} schema errors in test/bad`);
  });

  it('agrees with zod on thousands of random edits of a generated spec', () => {
    const base = yamlData(generateSpec({ hosts: 30, rules: 80, seed: 5 }));
    // Values of every kind the schema has, valid and not, in many places.
    const pool: unknown[] = [
      null,
      0,
      -1,
      1,
      1.5,
      65536,
      51820,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      true,
      false,
      '',
      'x',
      'vm',
      'nat',
      'filtered',
      'tcp/80',
      'udp/5000-5010',
      'tcp/99999',
      'internet',
      'any',
      'bad name!',
      'a'.repeat(70),
      'wg0"accept#',
      '10.0.0.1',
      '10.0.0.0/24',
      'é'.repeat(16),
      '10/minute',
      [],
      ['x'],
      ['tcp/80', 22],
      [1, 2],
      {},
      { a: 1 },
      { address: '10.0.0.1' },
      { allow: { from: 'any', to: 'any' } },
      { deny: {} },
      { from: 'a', to: 'b' },
    ];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const counts = { accepted: 0, rejected: 0, answered: 0 };
    for (let round = 0; round < 3000; round++) {
      const data = structuredClone(base) as Record<string, unknown>;
      // Walk down a random path, then edit there: replace a value, drop a key or add one.
      let parent: Record<string, unknown> | unknown[] = data;
      let key: string | number = 'version';
      for (let depth = 0; depth < 6; depth++) {
        const keys: (string | number)[] = Array.isArray(parent) ? parent.map((_, i) => i) : Object.keys(parent);
        if (keys.length === 0) break;
        key = keys[rand(keys.length)]!;
        const next = parent[key];
        if (next === null || typeof next !== 'object' || rand(4) === 0) break;
        parent = next as Record<string, unknown>;
      }
      const edit = rand(10);
      if (edit === 0 && !Array.isArray(parent)) delete parent[key as string];
      else if (edit === 1 && !Array.isArray(parent)) parent[['extra', 'kind', 'ports', 'nics', 'log'][rand(5)]!] = pool[rand(pool.length)];
      else (parent as Record<string | number, unknown>)[key] = structuredClone(pool[rand(pool.length)]);
      const ok = compare(data, `round ${round}`);
      if (ok) counts.accepted++;
      else counts.rejected++;
      if (fast(data) !== undefined) counts.answered++;
    }
    // Both outcomes must really occur, and the fast walk must answer most valid ones.
    assert.ok(counts.accepted > 300 && counts.rejected > 300, JSON.stringify(counts));
    assert.ok(counts.answered > counts.accepted * 0.9, JSON.stringify(counts));
  });

  it('keeps a strict object’s keys in the schema’s order, and refuses schemas it cannot walk', () => {
    const parse = fastParser(z.strictObject({ b: z.string().optional(), a: z.number().int().min(1) }))!;
    assert.equal(JSON.stringify(parse({ a: 2, b: 'x' })), '{"b":"x","a":2}');
    assert.equal(parse({ a: 0 }), undefined, 'a failed check');
    assert.equal(parse({ a: 1, c: 1 }), undefined, 'an unknown key');
    assert.equal(fastParser(z.string().transform((s) => s.length)), undefined);
    assert.equal(fastParser(z.object({ a: z.string() })), undefined, 'a non-strict object');
    assert.equal(fastParser(z.strictObject({ a: z.string().default('x') })), undefined);
    // A check that rewrites the value (trim) is zod's to apply; so is a refinement without a registered copy.
    assert.equal(fastParser(z.string().trim())?.(' x '), undefined);
    assert.equal(fastParser(z.string().refine((s) => s !== 'x'))!('y'), undefined);
    assert.equal(fastParser(z.string().max(3))!('ab'), 'ab');
    // Lengths: zod counts code points; near the bound only zod can tell, below it the walk may.
    assert.equal(fastParser(z.string().max(3))!('😀😀'), undefined, 'four units, two code points: zod decides');
    assert.equal(fastParser(z.string().min(2))!('abcd'), 'abcd');
    assert.equal(fastParser(z.array(z.string()).max(1))!(['a', 'b']), undefined);
  });

  it('remembers a text that passed as passed for its own checks only', () => {
    // The same text under two differently checked strings: passing the first must not pass it
    // for the second, in either order and in a later parse.
    const parse = fastParser(z.strictObject({ loose: z.array(z.string().regex(/^[a-z.]+$/)), strict: z.array(z.string().regex(/^[a-z]+$/)).optional() }))!;
    assert.deepEqual(parse({ loose: ['a.b', 'a.b'], strict: ['ab', 'ab'] }), { loose: ['a.b', 'a.b'], strict: ['ab', 'ab'] });
    assert.equal(parse({ loose: ['a.b'], strict: ['a.b'] }), undefined, 'a.b passed the loose check, not the strict one');
    assert.equal(parse({ loose: ['a.b'], strict: ['ab', 'a.b'] }), undefined);
    assert.deepEqual(parse({ loose: ['ab'] }), { loose: ['ab'] });
    // A long text: near a max bound only zod can tell (unsure), which is not remembered as a pass.
    const bounded = fastParser(z.array(z.string().max(3)))!;
    assert.equal(bounded(['😀😀', '😀😀']), undefined);
    assert.deepEqual(bounded(['abc', 'abc']), ['abc', 'abc']);
  });
});
