/**
 * Golden files for render targets: `test/golden/<example>/<path of the rendered file>`, where the
 * rendered path starts with the target's folder (`dns/…`, `netplan/…`). Every examples/*.yaml is
 * rendered, whatever examples exist when the test runs. `UPDATE_GOLDEN=1` rewrites the files (and
 * removes stale ones); otherwise every byte must match.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../../src/ir/compile.js';
import type { Ir } from '../../src/ir/types.js';
import { loadModel, loadModelFromText } from '../../src/model/load.js';
import type { Renderer, RenderResult } from '../../src/render/types.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const GOLDEN = join(ROOT, 'test', 'golden');
export const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** examples/*.yaml, sorted; the golden folder of each is its base name. */
export function exampleFiles(): string[] {
  const dir = join(ROOT, 'examples');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => join(dir, f));
}

export function exampleName(file: string): string {
  return basename(file).replace(/\.ya?ml$/, '');
}

/** Loads and compiles a spec file; undefined when it does not resolve (its own tests report why). */
export function irOfFile(file: string): Ir | undefined {
  const r = loadModel(file);
  return r.model ? compile(r.model) : undefined;
}

export function irOfText(text: string, file = 'inline.yaml'): Ir {
  const r = loadModelFromText(text, file);
  assert.ok(r.model, r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return compile(r.model);
}

export function render(renderer: Renderer, ir: Ir, params: Record<string, string> = {}, host?: string): RenderResult {
  return renderer.render(ir, { host, params: new Map(Object.entries(params)) });
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out.sort();
}

/**
 * Compares (or, with UPDATE_GOLDEN=1, writes) the files one example renders for a target.
 * `folder` is the first path segment every file of the target has.
 */
export function checkGolden(example: string, folder: string, result: RenderResult): void {
  const base = join(GOLDEN, example);
  for (const f of result.files) assert.ok(f.path.startsWith(`${folder}/`), `${f.path} is not under ${folder}/`);
  compareTree(join(base, folder), new Map(result.files.map((f) => [join(base, f.path), f.content])));
}

/**
 * The one golden comparison: every file under `dir` must be one of `want` (path → content) and
 * byte-equal to it; with UPDATE_GOLDEN=1 the folder is rewritten instead (stale files removed).
 */
export function compareTree(dir: string, want: ReadonlyMap<string, string>): void {
  const have = listFiles(dir);
  if (UPDATE) {
    for (const p of have) if (!want.has(p)) rmSync(p);
    for (const [p, content] of want) {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
    return;
  }
  const missing = [...want.keys()].filter((p) => !existsSync(p)).map((p) => relative(ROOT, p));
  assert.deepEqual(missing, [], `golden files missing (run with UPDATE_GOLDEN=1 and review the diff): ${missing.join(', ')}`);
  const stale = have.filter((p) => !want.has(p)).map((p) => relative(ROOT, p));
  assert.deepEqual(stale, [], `golden files no longer rendered (UPDATE_GOLDEN=1 removes them): ${stale.join(', ')}`);
  for (const [p, content] of want) assert.equal(content, readFileSync(p, 'utf8'), `${relative(ROOT, p)} differs from the rendered text (UPDATE_GOLDEN=1 to accept)`);
}

/** Runs a validator; `undefined` when the program is not installed (the caller skips). */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; input?: string } = {}): { code: number; out: string } | undefined {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The first of `candidates` that exists as a file, for programs outside PATH (/usr/sbin, /usr/lib/…). */
export function findProgram(...candidates: string[]): string | undefined {
  for (const c of candidates) {
    if (c.includes('/')) {
      if (existsSync(c)) return c;
      continue;
    }
    for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
      if (d && existsSync(join(d, c))) return join(d, c);
    }
  }
  return undefined;
}
