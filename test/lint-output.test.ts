/**
 * The structures lint's output goes through since they stopped being plain strings, maps of
 * string keys and objects per rule: spec rule ids (RuleIds), the occurrences of spec rules in
 * chains, sorting by name, and diagnostics and JSON lists encoded item by item. Each against the
 * plain form it replaced.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonListBytes } from '../src/cli/io.js';
import { diag, type Diagnostic } from '../src/diag/diagnostic.js';
import { formatDiagnostics, formatDiagnosticsBytes } from '../src/diag/format.js';
import { Code } from '../src/diag/codes.js';
import type { Origin } from '../src/model/types.js';
import { localeOrder, sortByName } from '../src/util/collate.js';
import { occurrences } from '../src/verify/lint-occurrences.js';
import { RuleIds } from '../src/verify/rule-ids.js';
import { assertProperty } from './support/seed.js';

const origin: fc.Arbitrary<Origin> = fc.record({
  file: fc.constantFrom('a.yaml', 'b.yaml'),
  path: fc.constantFrom('policy.0', 'policy.1', 'hosts.x'),
  // Few lines and columns, so that places are shared; line 0 is "no line"; 7 holds many.
  line: fc.constantFrom(0, 1, 2, 7),
  col: fc.integer({ min: 0, max: 40 }),
  text: fc.constant('allow a → b'),
});

describe('RuleIds', () => {
  it('gives equal origins one id and others different ones, as a key string per origin did', () => {
    assertProperty(
      fc.property(fc.array(origin, { maxLength: 120 }), fc.array(fc.nat(), { maxLength: 40 }), (list, again) => {
        // Origins met again as the same object (rules of one spec rule) and as copies.
        const seq = [...list, ...again.filter(() => list.length > 0).map((k) => list[k % list.length]!), ...list.map((o) => ({ ...o }))];
        const ids = new RuleIds();
        const byKey = new Map<string, number>();
        for (const o of seq) {
          const key = `${o.file}\u0000${o.path}\u0000${o.line}\u0000${o.col}`;
          const before = ids.find(o);
          assert.equal(before, byKey.get(key));
          const id = ids.id(o);
          if (!byKey.has(key)) byKey.set(key, byKey.size);
          assert.equal(id, byKey.get(key), key);
          assert.equal(ids.find(o), id);
        }
        assert.equal(ids.size, byKey.size);
      }),
      { numRuns: 400 },
      1101,
    );
  });

  it('tells apart many rules on one line (a spec in JSON is one line)', () => {
    const ids = new RuleIds();
    const on = (col: number, path: string): Origin => ({ file: 's.json', path, line: 1, col, text: '' });
    const first = Array.from({ length: 100 }, (_, k) => ids.id(on(k * 3, `policy.${k}`)));
    assert.deepEqual(
      first,
      Array.from({ length: 100 }, (_, k) => k),
    );
    for (let k = 0; k < 100; k++) assert.equal(ids.id(on(k * 3, `policy.${k}`)), k);
    assert.equal(ids.find(on(1, 'policy.0')), undefined);
    assert.equal(ids.find(on(0, 'policy.1')), undefined);
    assert.equal(ids.size, 100);
  });
});

describe('occurrences', () => {
  it('groups subject rules by id in chain then rule order, ids in the order first met', () => {
    assertProperty(
      fc.property(fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean()), { maxLength: 12 }), { maxLength: 5 }), (chains) => {
        const keyIds = chains.map((c) => Int32Array.from(c.map(([id]) => id)));
        const subjects = chains.map((c) => Uint8Array.from(c.map(([, s]) => (s ? 1 : 0))));
        const occ = occurrences(keyIds, subjects, 10);
        // What it replaced: a map of lists in insertion order.
        const byRule = new Map<number, [number, number][]>();
        chains.forEach((c, ci) =>
          c.forEach(([id, s], x) => {
            if (!s) return;
            const list = byRule.get(id);
            if (list) list.push([ci, x]);
            else byRule.set(id, [[ci, x]]);
          }),
        );
        assert.deepEqual(occ.order, [...byRule.keys()]);
        for (let k = 0; k < 10; k++) {
          const got: [number, number][] = [];
          for (let t = occ.start[k]!; t < occ.start[k + 1]!; t++) got.push([occ.chain[t]!, occ.rule[t]!]);
          assert.deepEqual(got, byRule.get(k) ?? []);
        }
      }),
      { numRuns: 400 },
      1102,
    );
  });
});

describe('sortByName', () => {
  it('orders as a sort by localeOrder, stably, with plain names and others', () => {
    const name = fc.array(fc.constantFrom(...'ab9z0-:'), { maxLength: 5 }).map((cs) => cs.join(''));
    const odd = fc.array(fc.constantFrom(...'aB_é1'), { maxLength: 4 }).map((cs) => cs.join(''));
    assertProperty(
      fc.property(fc.array(fc.oneof({ weight: 9, arbitrary: name }, { weight: 1, arbitrary: odd }), { maxLength: 60 }), (names) => {
        const items = names.map((n, k) => ({ n, k }));
        const want = [...items].sort((a, b) => localeOrder(a.n, b.n));
        assert.deepEqual(
          sortByName([...items], (x) => x.n),
          want,
        );
      }),
      { numRuns: 500 },
      1103,
    );
  });
});

describe('item by item encodings', () => {
  const ds: Diagnostic[] = [
    diag(Code.SHADOWED_RULE, 'warning', "'allow a → b' is shadowed", { file: 's.yaml', line: 3, col: 5, path: 'policy.0' }, 'move it'),
    diag(Code.ALLOW_DENY_OVERLAP, 'info', `long ${'x'.repeat(300)} word`, { file: 's.yaml', line: 1, col: 1, path: '' }),
    diag(Code.UNUSED_GROUP, 'warning', 'bidi \u202e and nul \u0000', { file: 's.yaml', line: 5, col: 200, path: 'groups.g' }),
    diag(Code.PORT_TO_ANY, 'warning', 'no line', { file: 's.yaml' }),
    diag(Code.UNUSED_SERVICE, 'warning', 'after a blank line', { file: 's.yaml', line: 7, col: 2, path: 'hosts.h' }),
    diag(Code.UNUSED_SERVICE, 'warning', 'after a no-break space line', { file: 's.yaml', line: 9, col: 1, path: 'hosts.h' }),
  ];
  const text = ['policy:', '  - allow: { from: a, to: b }', '    x: 1', '', `  ${'y'.repeat(400)}`, '   ', '  z: 2', '\u00a0\u3000', 'w: 1', ''].join('\n');
  it('formatDiagnosticsBytes is formatDiagnostics and a line break, in UTF-8', () => {
    for (const color of [false, true])
      for (const list of [ds, ds.slice(0, 1), ds.slice(2)]) {
        const opts = { sources: new Map([['s.yaml', text]]), color };
        assert.equal(formatDiagnosticsBytes(list, opts).toString('utf8'), `${formatDiagnostics(list, opts)}\n`);
      }
  });
  it('frames skip a blank line before (spaces, or white space trim knows) and cut a long line', () => {
    const out = formatDiagnostics(ds, { sources: new Map([['s.yaml', text]]), color: false }).split('\n\n');
    assert.match(out[4]!, /at hosts\.h\n> 7 \| {3}z: 2\n/);
    assert.match(out[5]!, /at hosts\.h\n> 9 \| w: 1\n/);
    assert.ok(out[2]!.includes('… (402 characters)'));
  });
  it('jsonListBytes is JSON.stringify(items, null, 2) and a line break', () => {
    assertProperty(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 6 }), (items) => {
        assert.equal(jsonListBytes(items).toString('utf8'), `${JSON.stringify(items, null, 2)}\n`);
      }),
      { numRuns: 300 },
      1104,
    );
    assert.equal(jsonListBytes(ds).toString('utf8'), `${JSON.stringify(ds, null, 2)}\n`);
    assert.equal(jsonListBytes([undefined, 'a\nb', { k: [] }]).toString('utf8'), `${JSON.stringify([undefined, 'a\nb', { k: [] }], null, 2)}\n`);
  });
});
