/** File → model in one call, with every diagnostic from parsing and resolving. */
import type { Diagnostic } from '../diag/diagnostic.js';
import { parseSpecText, readSpecFile, type SourceMap } from '../spec/parse.js';
import { resolveSpec } from './resolve.js';
import type { Model } from './types.js';

export interface LoadResult {
  readonly model: Model | undefined;
  readonly diagnostics: readonly Diagnostic[];
  readonly source: SourceMap | undefined;
}

export function loadModel(file: string): LoadResult {
  return finish(readSpecFile(file));
}

export function loadModelFromText(text: string, file = '<input>'): LoadResult {
  return finish(parseSpecText(text, file));
}

function finish(parsed: ReturnType<typeof readSpecFile>): LoadResult {
  if (!parsed.ok) return { model: undefined, diagnostics: parsed.diagnostics, source: parsed.source };
  const r = resolveSpec(parsed.value.spec, parsed.value.source);
  return { model: r.ok ? r.model : undefined, diagnostics: r.diagnostics, source: parsed.value.source };
}
