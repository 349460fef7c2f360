/**
 * Golden files for targets whose rendered paths start with the host (`pve/rules.v4`):
 * `test/golden/<example>/<target>[/<variant>]/<rendered path>`, plus `diagnostics.txt` beside
 * them holding the target's diagnostics as cordon prints them (code frame included) when there
 * are any. Every examples/*.yaml is rendered, whatever examples exist when the test runs.
 * `UPDATE_GOLDEN=1` rewrites the folder (stale files removed); otherwise every byte must match.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { formatDiagnostics } from '../../src/diag/format.js';
import { compile } from '../../src/ir/compile.js';
import type { Ir } from '../../src/ir/types.js';
import { loadModelFromText } from '../../src/model/load.js';
import type { RenderResult } from '../../src/render/types.js';
import { compareTree, GOLDEN, ROOT } from './golden.js';

export const DIAGNOSTICS_FILE = 'diagnostics.txt';

export interface Example {
  readonly name: string;
  /** Path as shown in diagnostics: `examples/<name>.yaml`, the same on every machine. */
  readonly shown: string;
  readonly text: string;
  /** undefined when the spec does not resolve (its own tests say why). */
  readonly ir: Ir | undefined;
}

export function loadExample(file: string): Example {
  const shown = relative(ROOT, file);
  const name = shown.replace(/^examples\//, '').replace(/\.ya?ml$/, '');
  const text = readFileSync(file, 'utf8');
  const r = loadModelFromText(text, shown);
  return { name, shown, text, ir: r.model ? compile(r.model) : undefined };
}

export function diagnosticsText(ex: Example, result: RenderResult): string | undefined {
  if (result.diagnostics.length === 0) return undefined;
  return `${formatDiagnostics(result.diagnostics, { sources: new Map([[ex.shown, ex.text]]), color: false })}\n`;
}

/** Compares (or, with UPDATE_GOLDEN=1, writes) one rendering of one example. */
export function checkTargetGolden(ex: Example, folder: string, result: RenderResult): void {
  const dir = join(GOLDEN, ex.name, folder);
  const want = new Map(result.files.map((f) => [join(dir, f.path), f.content]));
  const diags = diagnosticsText(ex, result);
  if (diags !== undefined) want.set(join(dir, DIAGNOSTICS_FILE), diags);
  compareTree(dir, want);
}
