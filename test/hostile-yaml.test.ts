/**
 * Hostile YAML: what a file may make cordon do is bounded, and what it says stays short and
 * located. Correctness, not timing: each case is one that used to go wrong (a stack overflow
 * with a 23 KB path, exit 3 "internal error" on an alias bomb, a 10 MB value echoed twice, the
 * library's quadratic duplicate-key check), checked by what comes out.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostics } from '../src/diag/format.js';
import { parseSpecText, parseYamlText } from '../src/spec/parse.js';
import { MAX_DEPTH } from '../src/spec/yaml-guard.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cordon-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `cordon check FILE` on `text`, through the CLI as a user runs it. */
function check(name: string, text: string): { status: number | null; stderr: string; file: string } {
  const file = join(dir, name);
  writeFileSync(file, text);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check', file], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stderr: r.stderr, file };
}

function noCrash(stderr: string): void {
  assert.doesNotMatch(stderr, /internal error|Maximum call stack|^\s+at .+:\d+:\d+\)?$/m);
}

describe('duplicate keys', () => {
  it('every duplicate is reported at the second key, with the line of the first', () => {
    const r = parseYamlText('a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\nc: { p: 1, p: 2 }\na: 4\n', 'f.yaml');
    assert.equal(r.ok, false);
    const got = r.diagnostics.map((d) => `${d.line}:${d.col} ${d.path} ${d.message}`);
    assert.deepEqual(got, [
      "5:3 b.x YAML syntax error: Map keys must be unique: 'x' is already defined on line 3",
      "6:12 c.p YAML syntax error: Map keys must be unique: 'p' is already defined on line 6",
      "7:1 a YAML syntax error: Map keys must be unique: 'a' is already defined on line 1",
    ]);
  });

  it('keys are compared as YAML values: 1 and "1" differ, 1 and 1.0 do not', () => {
    assert.equal(parseYamlText('1: a\n"1": b\ntrue: c\n"true": d\n').ok, true);
    const r = parseYamlText('1: a\n1.0: b\n');
    assert.equal(r.ok, false);
    assert.match(r.diagnostics[0]!.message, /Map keys must be unique/);
  });

  it('in a mapping of 20,000 keys, the one duplicate is found exactly where it is', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: ${i}`);
    keys.push('k12345: again');
    const r = parseYamlText(`${keys.join('\n')}\n`, 'big.yaml');
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics.length, 1);
    const d = r.diagnostics[0]!;
    assert.deepEqual([d.line, d.col, d.path], [20_001, 1, 'k12345']);
    assert.match(d.message, /'k12345' is already defined on line 12346/);
  });

  it('more duplicates than the syntax-error limit are all reported', () => {
    const text = Array.from({ length: 8 }, (_, i) => `k${i}: 1\nk${i}: 2`).join('\n');
    const r = parseYamlText(`${text}\n`);
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics.filter((d) => /Map keys must be unique/.test(d.message)).length, 8);
  });
});

describe('aliases', () => {
  it('an alias bomb is refused with exit 2 at FILE:LINE:COL of the alias, not an internal error', () => {
    const lines = ['version: 1', 'description: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= 9; i++) lines.push(`k${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    const r = check('bomb.yaml', `${lines.join('\n')}\n`);
    assert.equal(r.status, 2, r.stderr);
    noCrash(r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^${r.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error CORDON002: YAML: aliases expand this file by more than`, 'm'),
    );
  });

  it('a value that contains an alias to itself is refused, located', () => {
    const r = parseYamlText('a: &x [1, *x]\n');
    assert.equal(r.ok, false);
    assert.match(r.diagnostics[0]!.message, /alias \*x refers to a value that contains it/);
    assert.equal(r.diagnostics[0]!.line, 1);
  });

  it('one anchor used 150 times is fine (the library alone refused it past 100: exit 3)', () => {
    const r = parseYamlText(`p: &p tcp/22\nl: [${Array.from({ length: 150 }, () => '*p').join(', ')}]\n`);
    assert.equal(r.ok, true);
    if (r.ok) assert.equal((r.data as { l: string[] }).l.length, 150);
  });

  it('aliases that nest past the depth limit are refused', () => {
    const deep = (inner: string): string => `${'['.repeat(40)}${inner}${']'.repeat(40)}`;
    const r = parseYamlText(`a: &a ${deep('1')}\nb: ${deep('*a')}\n`);
    assert.equal(r.ok, false);
    assert.match(r.diagnostics[0]!.message, new RegExp(`deeper than ${MAX_DEPTH} levels`));
    assert.equal(r.diagnostics[0]!.line, 2);
  });
});

describe('nesting depth', () => {
  for (const [name, body] of [
    ['flow lists', `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
    ['flow mappings', `${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}`],
    ['block lists', `\n  ${'- '.repeat(10_000)}x`],
  ] as const) {
    it(`10,000 levels of ${name}: exit 2, a short message at FILE:LINE, no stack overflow`, () => {
      const r = check(`deep-${name.replace(' ', '-')}.yaml`, `version: 1\nhosts: ${body}\n`);
      assert.equal(r.status, 2, r.stderr.slice(0, 500));
      noCrash(r.stderr);
      assert.match(r.stderr, new RegExp(`error CORDON002: nesting deeper than ${MAX_DEPTH} levels at .*deep-.*\\.yaml:[23]\\n`));
      assert.ok(r.stderr.length < 1500, `stderr is ${r.stderr.length} characters`);
    });
  }

  it(`${MAX_DEPTH} levels are still accepted`, () => {
    assert.equal(parseYamlText(`${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}\n`).ok, true);
    assert.equal(parseYamlText(`${'['.repeat(MAX_DEPTH + 1)}${']'.repeat(MAX_DEPTH + 1)}\n`).ok, false);
  });
});

describe('what an error quotes is short', () => {
  const big = 'x'.repeat(10_000_000);

  it('a 10 MB version value: exit 2, the value cut with its length, in the message and the code frame', () => {
    const r = check('big-version.yaml', `version: ${big}\n`);
    assert.equal(r.status, 2);
    noCrash(r.stderr);
    assert.ok(r.stderr.length < 2000, `stderr is ${r.stderr.length} characters`);
    assert.match(r.stderr, /unsupported spec version "x+…" \(10,000,000 characters\)/);
    assert.match(r.stderr, /> 1 \| version: x+… \(10,000,009 characters\)/);
  });

  it('a 10 MB key (explicit, so YAML allows it): the unknown-field message is short', () => {
    const r = parseSpecText(`version: 1\n? ${'k'.repeat(10_000_000)}\n: 1\n`, 'k.yaml');
    assert.equal(r.ok, false);
    const text = formatDiagnostics(r.diagnostics, { sources: new Map([['k.yaml', r.source?.text ?? '']]) });
    assert.ok(text.length < 2000, `${text.length} characters`);
    assert.match(text, /unknown field 'k+…' \(10,000,000 characters\)/);
  });

  it('a long string where a number belongs: describeValue says how long', () => {
    const r = parseSpecText(`version: 1\ntunnels:\n  wg0: { server: hv, listen: ${'9'.repeat(5000)}x, cidr: 10.8.0.0/24 }\n`, 't.yaml');
    assert.equal(r.ok, false);
    const text = formatDiagnostics(r.diagnostics, { sources: new Map([['t.yaml', r.source?.text ?? '']]) });
    assert.ok(text.length < 2000, `${text.length} characters:\n${text.slice(0, 3000)}`);
    assert.match(text, /\(5,001 characters\)/);
  });

  it('any long run of user text in a message is cut when printed', () => {
    const text = formatDiagnostics([
      { code: 'CORDON003', severity: 'error', message: `unknown host '${'h'.repeat(100_000)}'`, file: 'f.yaml', line: 0, col: 0, path: 'policy[0].from' },
    ]);
    assert.ok(text.length < 400, `${text.length}`);
    assert.match(text, /… \(100,002 characters\)/);
  });
});
