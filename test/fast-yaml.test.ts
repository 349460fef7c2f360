/**
 * The fast YAML reader (src/spec/fast-yaml.ts) against the YAML library: on every document it
 * accepts, the same values and the same source positions (line and column of every value and
 * every key, by JSON path, and of the nearest ancestor for paths that do not exist); on anything
 * else it declines. Checked on the repository's examples and broken inputs, on `cordon gen`
 * output (which it must accept: that is what makes big specs fast) and on random documents of
 * the subset, before and after random edits.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isMap, isSeq, LineCounter, Parser, Composer, type Document } from 'yaml';
import { generateSpec } from '../src/gen/generate.js';
import { readFastYaml } from '../src/spec/fast-yaml.js';
import { parseYamlText, SourceMap, type PathSeg } from '../src/spec/parse.js';
import { checkDocument } from '../src/spec/yaml-guard.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The library's document and line table, read as parseYamlText reads a file without the fast path. */
function library(text: string): { doc: Document; lines: LineCounter; errors: number } {
  const lines = new LineCounter();
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const docs = [...new Composer({ prettyErrors: false, uniqueKeys: false }).compose(tokens, true, text.length)];
  const doc = docs[0]!;
  return { doc, lines, errors: doc.errors.length + (docs.length > 1 ? 1 : 0) + checkDocument(doc).length };
}

/** Every path of the document: values (`key` false) and, for mapping entries, keys. */
function paths(doc: Document): { path: PathSeg[]; key: boolean }[] {
  const out: { path: PathSeg[]; key: boolean }[] = [{ path: [], key: false }];
  const walk = (node: unknown, path: PathSeg[]): void => {
    if (isMap(node)) {
      for (const p of node.items) {
        const k = String((p.key as { value: unknown }).value);
        out.push({ path: [...path, k], key: false }, { path: [...path, k], key: true });
        walk(p.value, [...path, k]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((it, i) => {
        out.push({ path: [...path, i], key: false });
        walk(it, [...path, i]);
      });
    }
  };
  walk(doc.contents, []);
  return out;
}

/**
 * 'declined', or 'same' after asserting that the fast reader's values and positions are the
 * library's. A document the fast reader accepts must be one the library reads without a problem.
 */
function compare(text: string): 'declined' | 'same' {
  const fast = readFastYaml(text);
  if (!fast) return 'declined';
  const lib = library(text);
  assert.equal(lib.errors, 0, `the fast reader accepted a document the library refuses:\n${text}`);
  assert.deepStrictEqual(fast.data, lib.doc.toJS({ maxAliasCount: -1 }), `values differ on:\n${text}`);
  const viaFast = parseYamlText(text, 'f.yaml');
  assert.ok(viaFast.ok);
  const viaLib = new SourceMap('f.yaml', text, lib.doc, lib.lines);
  for (const { path, key } of paths(lib.doc)) {
    for (const p of [path, [...path, 'no-such-key'], [...path, 7], [...path, 0, 'x']]) {
      assert.deepStrictEqual(viaFast.source.pos(p, key), viaLib.pos(p, key), `position of ${JSON.stringify(p)}${key ? ' (key)' : ''} differs on:\n${text}`);
    }
  }
  return 'same';
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...yamlFiles(join(dir, e.name)));
    else if (/\.ya?ml$/.test(e.name)) out.push(join(dir, e.name));
  }
  return out;
}

describe('fast YAML reader: the files of the repository', () => {
  it('examples and broken inputs: the same values and positions as the library, or declined', () => {
    const files = [...yamlFiles(join(ROOT, 'examples')), ...yamlFiles(join(ROOT, 'test/bad'))];
    assert.ok(files.length > 50);
    const counts = { same: 0, declined: 0 };
    for (const f of files) counts[compare(readFileSync(f, 'utf8'))]++;
    // Most example files are in the subset: a reader that declines everything would pass the rest.
    assert.ok(counts.same >= 20, JSON.stringify(counts));
  });

  it('finds keys by their value, not their spelling: quoted, escaped, spaced before the colon', () => {
    // Positions look keys up by their text, which the reader reads again from the file when a
    // mapping is first looked into: the key's value must come out, not its source form.
    const docs = [
      "a:\n  \"k\\x41\\u00e9\\\"\": 1\n  'it''s': 2\n  plain key   : 3\n  \"x y\": { \"p\\tq\": 4, 'r''s': [5], t u: 6 }\n",
      '"top \\" key": { "in\\\\ner": x }\n\'b\': [ { "c\\/d": e } ]\n',
    ];
    for (const text of docs) assert.equal(compare(text), 'same', text);
  });

  it('accepts what `cordon gen` writes, with the same values and positions', () => {
    for (const seed of [1, 2, 3]) assert.equal(compare(generateSpec({ hosts: 60, rules: 300, seed })), 'same');
  });
});

/** Scalars chosen to sit on the edges of the subset and of the core schema's types. */
const SCALARS = [
  'a',
  'vmbr1',
  'agent-1.ssh',
  '10.0.0.1',
  '10.0.0.0/24',
  'tcp/80',
  'udp/5000-5010',
  '1',
  '007',
  '-1',
  '+5',
  '-0',
  '0x1F',
  '0o17',
  '0o8',
  '1.5',
  '1.',
  '.5',
  '1e3',
  '-1.5E-2',
  '.inf',
  '-.Inf',
  '.nan',
  '.NaN',
  'true',
  'False',
  'TRUE',
  'tRue',
  'NULL',
  'Null',
  '~',
  'null',
  'yes',
  'a b',
  "it's",
  'say "hi"',
  'a:b',
  'http://x:80/p',
  'fd00::1',
  '::1',
  'a#b',
  'a #b',
  'a,b',
  'a, b',
  'ünï',
  '日本',
  '😀',
  '',
  ' lead',
  'trail ',
  'a: b',
  'a:',
  '# x',
  '-x',
  '--task',
  '-.5',
  '-a:b',
  '- x',
  '-',
  '[x]',
  'x]',
  '{x}',
  'a}',
  '"q"',
  "'q'",
  'a\\b',
  'tab\there',
  'line\nbreak',
  '&a',
  '*a',
  '!t',
  '|',
  '>',
  '%x',
  '@x',
  '`x',
  '?',
  '? x',
  '.',
  '...',
  '---',
  '__proto__',
  '<<',
  'constructor',
  'toString',
  '1000000000000000000000',
  '0.0',
  'a\u00a0b',
];
const KEYS = [
  'a',
  'b',
  'name',
  'from',
  'to',
  'ports',
  'vmbr1',
  'agent-1',
  'a b',
  'a.b',
  'x_y',
  '1',
  'true',
  'null',
  '~',
  'a:b',
  '__proto__',
  'constructor',
  'k',
  'é',
];

type Tree = string | { map: [string, Tree][] } | { seq: Tree[] };

const scalar = fc.oneof(fc.constantFrom(...SCALARS), fc.stringMatching(/^[a-z0-9 ./:#,'"\\-]{0,8}$/));
const key = fc.oneof(fc.constantFrom(...KEYS), fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/));
const tree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
  t: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.record({ map: fc.array(fc.tuple(key, tie('t')), { maxLength: 4 }) }),
    fc.record({ seq: fc.array(tie('t'), { maxLength: 4 }) }),
  ),
})).t;
const topTree = fc.record({ map: fc.uniqueArray(fc.tuple(key, tree), { minLength: 1, maxLength: 5, selector: ([k]) => k }) });

/** Documents a spec is made of: names, addresses, ports, numbers; each one in the subset. */
const tameScalar = fc.oneof(
  fc.constantFrom('vmbr1', 'agent-1.ssh', '10.0.0.0/24', 'tcp/80', '42', '-7', '1.5', 'true', 'a b', 'x_y', 'ünï', '/srv/a'),
  fc.stringMatching(/^[a-z][a-z0-9.-]{0,6}$/),
);
const tameTree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
  t: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tameScalar,
    fc.record({ map: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/), tie('t')), { maxLength: 4, selector: ([k]) => k }) }),
    fc.record({ seq: fc.array(tie('t'), { maxLength: 4 }) }),
  ),
})).t;
const tameTop = fc.record({
  map: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/), tameTree), { minLength: 1, maxLength: 5, selector: ([k]) => k }),
});

/** A small PRNG for the renderer's style choices, seeded by fast-check (so failures replay). */
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** Renders a tree as YAML, choosing styles at random: block or flow, plain or quoted, comments, blank lines, indents. */
function render(t: Tree, seed: number): string {
  const r = prng(seed);
  const q = (s: string): string => {
    const style = r(4);
    if (style === 0) return `'${s.replaceAll("'", "''")}'`;
    if (style === 1) return JSON.stringify(s);
    return s; // plain, even where that is not valid YAML: then the reader must decline
  };
  const colon = (): string => (r(12) ? ':' : ' :');
  const comment = (): string => (r(6) === 0 ? `  # c${r(9)}` : '');
  const flow = (t: Tree): string => {
    if (typeof t === 'string') return q(t);
    if ('map' in t) return t.map.length ? `{ ${t.map.map(([k, v]) => `${q(k)}: ${flow(v)}`).join(', ')} }` : '{}';
    return t.seq.length ? `[ ${t.seq.map(flow).join(', ')} ]` : '[]';
  };
  const lines: string[] = [];
  const blank = (): void => {
    if (r(8) === 0) lines.push(r(2) ? '' : `${' '.repeat(r(6))}# note`);
  };
  /** Writes `t` as the value after `head` (a `key:` or `-` at column `col`). */
  const value = (head: string, t: Tree, col: number): void => {
    const pad = ' '.repeat(col);
    const big = typeof t !== 'string' && ('map' in t ? t.map.length : t.seq.length) > 0;
    if (!big || r(3) === 0) {
      lines.push(`${pad}${head}${r(10) ? ' ' : '   '}${flow(t)}${comment()}`);
      return;
    }
    if (head === '-' && typeof t !== 'string' && 'map' in t && r(2)) {
      // A compact mapping in a list item: `- k: v`, the next keys under the first.
      const [first, ...rest] = t.map;
      const inner = col + 2;
      const sub: string[] = [];
      const save = lines.length;
      value(`${q(first![0])}${colon()}`, first![1], inner);
      sub.push(...lines.splice(save));
      lines.push(`${pad}- ${sub[0]!.slice(inner)}`, ...sub.slice(1));
      for (const [k, v] of rest) {
        blank();
        value(`${q(k)}${colon()}`, v, inner);
      }
      return;
    }
    lines.push(`${pad}${head}${comment()}`);
    blank();
    const inner = typeof t !== 'string' && 'seq' in t && head !== '-' && r(2) ? col : col + 1 + r(3);
    block(t, inner);
  };
  const block = (t: Tree, col: number): void => {
    if (typeof t === 'string') throw new Error('unreachable');
    if ('map' in t) for (const [k, v] of t.map) value(`${q(k)}${colon()}`, v, col);
    else for (const v of t.seq) value('-', v, col);
  };
  block(t, 0);
  return `${lines.join('\n')}${r(4) ? '\n' : ''}`;
}

/** One random edit: a character inserted or deleted, a line duplicated, re-indented or dropped. */
function mutate(text: string, seed: number): string {
  const r = prng(seed);
  const lines = text.split('\n');
  const at = r(Math.max(1, text.length));
  const line = r(lines.length);
  switch (r(6)) {
    case 5:
      lines.splice(line, 0, `${' '.repeat(r(5))}${['- x', 'k: v', '# c', '- null', 'x', '-', 'k:', '- k: v'][r(8)]}`);
      return lines.join('\n');
    case 0:
      return text.slice(0, at) + ' :-#\'"{}[],\n&*!|>?%@`\t\\x0'[r(27)] + text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1);
    case 2:
      lines.splice(line, 0, lines[line]!);
      return lines.join('\n');
    case 3:
      lines[line] = r(2) ? ` ${lines[line]}` : lines[line]!.replace(/^ /, '');
      return lines.join('\n');
    default:
      lines.splice(line, 1);
      return lines.join('\n');
  }
}

describe('fast YAML reader: random documents', () => {
  it('on random documents of the subset: the same values and positions as the library, or declined', () => {
    const counts = { same: 0, declined: 0 };
    fc.assert(
      fc.property(topTree, fc.integer(), (t, seed) => {
        counts[compare(render(t, seed))]++;
      }),
      { numRuns: 1500 },
    );
    assert.ok(counts.same > 0, JSON.stringify(counts));
  });

  it('documents of names, addresses and numbers in any layout are read, not declined', () => {
    const counts = { same: 0, declined: 0 };
    fc.assert(
      fc.property(tameTop, fc.integer(), (t, seed) => {
        counts[compare(render(t, seed))]++;
      }),
      { numRuns: 300 },
    );
    // Only the layouts the reader leaves to the library (an item on the line after its `-`) decline.
    assert.ok(counts.same >= counts.declined * 9, JSON.stringify(counts));
  });

  it('after random edits: still the same as the library, or declined', () => {
    fc.assert(
      fc.property(topTree, fc.integer(), fc.array(fc.integer(), { minLength: 1, maxLength: 3 }), (t, seed, edits) => {
        let text = render(t, seed);
        for (const e of edits) text = mutate(text, e);
        compare(text);
      }),
      { numRuns: 2000 },
    );
  });
});
