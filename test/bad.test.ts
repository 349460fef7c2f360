/**
 * Broken inputs beside their expected diagnostics: every `test/bad/NN-name.expected` holds the
 * exact stderr of `cordon check test/bad/NN-name.yaml` (no colour, code frame included).
 * An `.expected` without its `.yaml` is the unreadable-file case (CORDON001).
 *
 * Most cases go through the library and the formatter (fast); a few spawn the CLI to prove the
 * same bytes, exit code 2 and no stack trace. UPDATE_GOLDEN=1 rewrites the .expected files and fails
 * naming those it changed: review the diff, then run again without it.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostics } from '../src/diag/format.js';
import { compile } from '../src/ir/compile.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import { checkGoldenFile } from './support/golden.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BAD = join(ROOT, 'test/bad');

const names = [
  ...new Set(
    readdirSync(BAD)
      .filter((f) => /\.(yaml|expected)$/.test(f))
      .map((f) => f.replace(/\.(yaml|expected)$/, '')),
  ),
].sort();

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
      // UPDATE_GOLDEN=1 writes the file and fails when that changed it (never a silent pass).
      checkGoldenFile(expectedFile, got.text);
    });
  }

  it('no stale expected output: an .expected without its .yaml is only the unreadable-file case', () => {
    // A deleted case leaves its .expected behind; it must not turn into a "missing file" case
    // silently. Such cases are named *missing-file* and expect exactly CORDON001 for themselves.
    const stale = names
      .filter((n) => !existsSync(join(BAD, `${n}.yaml`)))
      .filter((n) => {
        const text = readFileSync(join(BAD, `${n}.expected`), 'utf8');
        return !/missing-file/.test(n) || text !== `test/bad/${n}.yaml: error CORDON001: cannot read spec: no such file\n`;
      });
    assert.deepEqual(stale, [], `test/bad/*.expected with no input (delete them, or name an unreadable-file case *missing-file*): ${stale.join(', ')}`);
    const other = readdirSync(BAD).filter((f) => !/\.(yaml|expected)$/.test(f));
    assert.deepEqual(other, [], 'test/bad holds only NN-name.yaml and NN-name.expected');
  });

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
