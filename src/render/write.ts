/** Writing rendered files: secrets 0600, scripts 0755, everything else 0644; atomic per file. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { safeRelativePath, UnsafeOutput } from './escape.js';
import type { RenderedFile } from './types.js';

export function writeRendered(outDir: string, files: readonly RenderedFile[]): string[] {
  const written: string[] = [];
  for (const f of files) {
    // Paths carry spec names: never write outside outDir, whatever a renderer returned.
    const bad = safeRelativePath(f.path);
    const rel = relative(resolve(outDir), resolve(outDir, f.path));
    if (bad !== undefined || rel.startsWith('..') || isAbsolute(rel)) throw new UnsafeOutput(bad ?? `${f.path} leaves ${outDir}`);
    const path = join(outDir, f.path);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, f.content, { mode: f.secret ? 0o600 : f.executable ? 0o755 : 0o644 });
    renameSync(tmp, path);
    written.push(path);
  }
  return written;
}
