/**
 * The last check between a renderer and the disk, applied to every target in the registry: a value
 * an emitter refused (`UnsafeOutput`, see escape.ts) becomes a CORDON018 diagnostic instead of a
 * crash, and every file path must stay a plain relative path under the output directory (paths
 * are built from spec names). A target that needs keys keeps that ability, guarded the same way.
 */
import { diag } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import type { Ir } from '../ir/types.js';
import { safeRelativePath, UnsafeOutput } from './escape.js';
import {
  isStreamingRenderer,
  type FileSink,
  type Renderer,
  type RenderOptions,
  type RenderResult,
  type StreamedFile,
  type StreamingRenderer,
} from './types.js';

function refusal(r: Renderer, ir: Ir, why: string): RenderResult {
  return {
    files: [],
    diagnostics: [
      diag(
        Code.UNSAFE_TEXT,
        'error',
        `${r.name}: refused to render: ${why}`,
        { file: ir.model.file },
        'the spec holds text this target cannot carry safely; nothing was written',
      ),
    ],
  };
}

function guardedRender(r: Renderer, ir: Ir, opts: RenderOptions): RenderResult {
  const refuse = (why: string): RenderResult => refusal(r, ir, why);
  let result: RenderResult;
  try {
    result = r.render(ir, opts);
  } catch (e) {
    if (e instanceof UnsafeOutput) return refuse(e.what);
    throw e;
  }
  for (const f of result.files) {
    const bad = safeRelativePath(f.path);
    if (bad !== undefined) return refuse(bad);
  }
  return result;
}

/**
 * The same for a streaming render: a path is checked before its file is opened, and a refusal
 * comes back as the same diagnostic with no files (the caller discards what was streamed).
 */
function guardedRenderTo(r: StreamingRenderer, ir: Ir, opts: RenderOptions, open: (file: StreamedFile) => FileSink): ReturnType<StreamingRenderer['renderTo']> {
  try {
    return r.renderTo(ir, opts, (file) => {
      const bad = safeRelativePath(file.path);
      if (bad !== undefined) throw new UnsafeOutput(bad);
      return open(file);
    });
  } catch (e) {
    if (e instanceof UnsafeOutput) return refusal(r, ir, e.what);
    throw e;
  }
}

export function guarded<R extends Renderer>(r: R): R {
  const withKeys = (r as unknown as { withKeys?: (k: unknown) => Renderer }).withKeys;
  return {
    ...r,
    render: (ir: Ir, opts: RenderOptions) => guardedRender(r, ir, opts),
    ...(isStreamingRenderer(r)
      ? { renderTo: (ir: Ir, opts: RenderOptions, open: (file: StreamedFile) => FileSink) => guardedRenderTo(r, ir, opts, open) }
      : {}),
    ...(typeof withKeys === 'function' ? { withKeys: (k: unknown) => guarded(withKeys.call(r, k)) } : {}),
  };
}
