/**
 * Golden files for render targets: `test/golden/<example>/<path of the rendered file>`, where the
 * rendered path starts with the target's folder (`dns/…`, `netplan/…`). Every examples/*.yaml is
 * rendered, whatever examples exist when the test runs. `UPDATE_GOLDEN=1` rewrites the files (and
 * removes stale ones) and then FAILS naming what it changed, so an update is never a silent pass:
 * review `git diff`, run again without UPDATE_GOLDEN. Otherwise every byte must match.
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

/** Every file under `dir`, recursively, sorted; [] when it does not exist. */
export function listFiles(dir: string): string[] {
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

/** Writes `content` to `path` unless it is already there byte for byte; true when it wrote. */
export function writeIfChanged(path: string, content: string): boolean {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return false;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return true;
}

/** The message an UPDATE_GOLDEN run fails with when it changed something. */
export function updatedMessage(changed: readonly string[]): string {
  return `updated ${changed.map((p) => relative(ROOT, p)).join(', ')}, review the diff (git diff) and run again without UPDATE_GOLDEN`;
}

/**
 * With UPDATE_GOLDEN=1: a run that changed golden files fails naming them (it proves nothing about
 * the new content); a run that changed nothing passes.
 */
export function failIfUpdated(changed: readonly string[]): void {
  if (changed.length > 0) assert.fail(updatedMessage(changed));
}

/**
 * One golden file: byte-equal to `content`, or (UPDATE_GOLDEN=1) written and then a failure when
 * that changed it.
 */
export function checkGoldenFile(path: string, content: string): void {
  if (UPDATE) return failIfUpdated(writeIfChanged(path, content) ? [path] : []);
  assert.ok(existsSync(path), `${relative(ROOT, path)} is missing: run with UPDATE_GOLDEN=1 and review it`);
  assert.equal(content, readFileSync(path, 'utf8'), `${relative(ROOT, path)} differs from the output (UPDATE_GOLDEN=1 to accept, after reviewing)`);
}

/**
 * The one golden comparison: every file under `dir` must be one of `want` (path → content) and
 * byte-equal to it; with UPDATE_GOLDEN=1 the folder is rewritten instead (stale files removed),
 * and the test fails naming every file that changed.
 */
export function compareTree(dir: string, want: ReadonlyMap<string, string>): void {
  const have = listFiles(dir);
  if (UPDATE) {
    const changed: string[] = [];
    for (const p of have) {
      if (want.has(p)) continue;
      rmSync(p);
      changed.push(p);
    }
    for (const [p, content] of want) if (writeIfChanged(p, content)) changed.push(p);
    return failIfUpdated(changed);
  }
  const missing = [...want.keys()].filter((p) => !existsSync(p)).map((p) => relative(ROOT, p));
  assert.deepEqual(missing, [], `golden files missing (run with UPDATE_GOLDEN=1 and review the diff): ${missing.join(', ')}`);
  const stale = have.filter((p) => !want.has(p)).map((p) => relative(ROOT, p));
  assert.deepEqual(stale, [], `golden files no longer rendered (UPDATE_GOLDEN=1 removes them): ${stale.join(', ')}`);
  for (const [p, content] of want)
    assert.equal(content, readFileSync(p, 'utf8'), `${relative(ROOT, p)} differs from the rendered text (UPDATE_GOLDEN=1 to accept)`);
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
