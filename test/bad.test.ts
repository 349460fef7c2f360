/**
 * Broken inputs beside their expected diagnostics: every `test/bad/NN-name.expected` holds the
 * exact stderr of `cordon check test/bad/NN-name.yaml` (no colour, code frame included).
 * An `.expected` without its `.yaml` is the unreadable-file case (CORDON001).
 *
 * Most cases go through the library and the formatter (fast); a few spawn the CLI to prove the
 * same bytes, exit code 2 and no stack trace. Refresh with UPDATE_GOLDEN=1, then review the diff.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostics } from '../src/diag/format.js';
import { compile } from '../src/ir/compile.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BAD = join(ROOT, 'test/bad');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const names = [...new Set(readdirSync(BAD).filter((f) => /\.(yaml|expected)$/.test(f)).map((f) => f.replace(/\.(yaml|expected)$/, '')))].sort();

/** What `cordon check` prints on stderr for one file, computed with the library. */
function checkStderr(rel: string): { text: string; ok: boolean; codes: string[] } {
  const abs = join(ROOT, rel);
  // Read it ourselves so the file name in messages is the repo-relative one, whatever the cwd.
  const r = existsSync(abs) ? loadModelFromText(readFileSync(abs, 'utf8'), rel) : loadModel(rel);
  const ds = [...r.diagnostics, ...(r.model ? compile(r.model).diagnostics : [])];
  const sources = new Map<string, string>();
  if (r.source) sources.set(r.source.file, r.source.text);
  const text = ds.length ? `${formatDiagnostics(ds, { sources, color: false })}\n` : '';
  return { text, ok: r.model !== undefined, codes: ds.map((d) => d.code) };
}

describe('bad inputs: cordon check diagnostics match test/bad/*.expected', () => {
  it('has a corpus of at least 25 cases', () => {
    assert.ok(names.length >= 25, `only ${names.length} cases`);
  });

  for (const name of names) {
    it(name, () => {
      const rel = `test/bad/${name}.yaml`;
      const expectedFile = join(BAD, `${name}.expected`);
      const got = checkStderr(rel);
      assert.equal(got.ok, false, `${rel} is accepted; a bad input must be refused`);
      if (UPDATE) writeFileSync(expectedFile, got.text);
      assert.ok(existsSync(expectedFile), `no ${name}.expected: run with UPDATE_GOLDEN=1 and review it`);
      assert.equal(got.text, readFileSync(expectedFile, 'utf8'));
    });
  }

  it('every diagnostic names FILE:LINE:COL (except an unreadable file and a closing count)', () => {
    for (const name of names) {
      const text = readFileSync(join(BAD, `${name}.expected`), 'utf8');
      for (const head of text.split('\n').filter((l) => / (error|warning|info) CORDON\d{3}: /.test(l))) {
        if (/ error CORDON001: | info CORDON002: /.test(head)) continue;
        assert.match(head, new RegExp(`^test/bad/${name}\\.yaml:\\d+:\\d+: `), `${name}: ${head}`);
      }
    }
  });

  it('no message leaks zod or parser internals', () => {
    for (const name of names) {
      const text = readFileSync(join(BAD, `${name}.expected`), 'utf8');
      assert.doesNotMatch(text, /Invalid input|expected record|expected object|Too (big|small)|received|\n\s+at .*\.ts:\d+/, name);
    }
  });
});

describe('bad inputs through the CLI', () => {
  const spawned = ['01-yaml-bad-indent', '05-empty-file', '12-unknown-host-in-policy', '21-group-cycle', '28-missing-file'];
  for (const name of spawned) {
    it(`cordon check ${name}: exit 2, the expected stderr, nothing on stdout, no stack trace`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check', `test/bad/${name}.yaml`], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
      });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, readFileSync(join(BAD, `${name}.expected`), 'utf8'));
      assert.doesNotMatch(r.stderr, /internal error|^\s+at .+:\d+:\d+\)?$/m);
    });
  }
});
