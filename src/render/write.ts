/** Writing rendered files: secrets 0600, scripts 0755, everything else 0644; atomic per file. */
import { closeSync, openSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { makeDirs, removeDirs } from '../util/mkdirs.js';
import { safeRelativePath, UnsafeOutput } from './escape.js';
import type { FileSink, RenderedFile, StreamedFile } from './types.js';

/** Where `f` goes under `outDir`; refused when it would leave it (paths carry spec names, whatever a renderer returned). */
function targetPath(outDir: string, f: { readonly path: string }): string {
  const bad = safeRelativePath(f.path);
  const rel = relative(resolve(outDir), resolve(outDir, f.path));
  if (bad !== undefined || rel.startsWith('..') || isAbsolute(rel)) throw new UnsafeOutput(bad ?? `${f.path} leaves ${outDir}`);
  return join(outDir, f.path);
}

function modeOf(f: { readonly secret: boolean; readonly executable?: boolean }): number {
  return f.secret ? 0o600 : f.executable ? 0o755 : 0o644;
}

export function writeRendered(outDir: string, files: readonly RenderedFile[]): string[] {
  const written: string[] = [];
  const made: string[] = [];
  for (const f of files) {
    const path = targetPath(outDir, f);
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      made.push(...makeDirs(dirname(path), 0o755));
      writeFileSync(tmp, f.content, { mode: modeOf(f) });
      renameSync(tmp, path);
    } catch (error) {
      // The files already renamed stay; a directory made for nothing (left empty) does not.
      try {
        rmSync(tmp, { force: true });
      } catch {
        // Its directory is not there (or not one): no temporary file either.
      }
      removeDirs(made);
      throw error;
    }
    written.push(path);
  }
  return written;
}

/** Files of a streaming render (types.ts `StreamingRenderer`) on their way to `outDir`. */
export interface StagedFiles {
  /** For `renderTo`: each file is written to a temporary file beside its place as its bytes come. */
  readonly open: (file: StreamedFile) => FileSink;
  /** Every file moved into place (rename), in the order opened; the paths written. Throws the first failure of staging, after discarding. */
  commit(): string[];
  /** Removes the temporary files and the directories staging created: nothing of the render is left. */
  discard(): void;
}

const DISCARD: FileSink = { write: () => undefined, close: () => undefined };

/**
 * The streaming form of `writeRendered`: the same directories, modes, temporary names and
 * renames, but a file's bytes go to its temporary file while the renderer makes them, so the
 * file is never held in memory. Nothing appears under its final name before `commit`, which the
 * caller runs only when the render gave no error diagnostic; otherwise `discard` leaves the
 * output directory as it was. A failure while staging (a directory that cannot be made, a full
 * disk) is kept, the rest of the render is discarded as it comes, and `commit` throws it: the
 * caller reports the render's diagnostics first, as with `writeRendered` after `render`.
 */
export function stageFiles(outDir: string): StagedFiles {
  const staged: { tmp: string; path: string; fd: number | undefined }[] = [];
  /** Every directory staging made, each before those inside it: removed on discard (deepest first, only when empty). */
  const made: string[] = [];
  let failure: { error: unknown } | undefined;

  const open = (file: StreamedFile): FileSink => {
    if (failure !== undefined) return DISCARD;
    let entry: (typeof staged)[number];
    try {
      const path = targetPath(outDir, file);
      made.push(...makeDirs(dirname(path), 0o755));
      const tmp = `${path}.tmp-${process.pid}`;
      entry = { tmp, path, fd: openSync(tmp, 'w', modeOf(file)) };
      staged.push(entry);
    } catch (error) {
      failure = { error };
      return DISCARD;
    }
    return {
      write: (chunk, length) => {
        if (failure !== undefined || entry.fd === undefined) return;
        try {
          for (let off = 0; off < length;) off += writeSync(entry.fd, chunk, off, length - off);
        } catch (error) {
          failure = { error };
        }
      },
      close: () => {
        if (entry.fd === undefined) return;
        const fd = entry.fd;
        entry.fd = undefined;
        try {
          closeSync(fd);
        } catch (error) {
          failure ??= { error };
        }
      },
    };
  };

  const discard = (): void => {
    for (const s of staged) {
      if (s.fd !== undefined) {
        try {
          closeSync(s.fd);
        } catch {
          // Already unusable; the file goes below either way.
        }
        s.fd = undefined;
      }
      rmSync(s.tmp, { force: true });
    }
    staged.length = 0;
    removeDirs(made);
    made.length = 0;
  };

  const commit = (): string[] => {
    if (failure !== undefined) {
      discard();
      throw failure.error;
    }
    const written: string[] = [];
    try {
      for (const s of staged) {
        if (s.fd !== undefined) {
          closeSync(s.fd);
          s.fd = undefined;
        }
        renameSync(s.tmp, s.path);
        written.push(s.path);
      }
    } catch (error) {
      // What was renamed stays (as with writeRendered); the rest is removed.
      for (const s of staged.slice(written.length)) {
        if (s.fd !== undefined) closeSync(s.fd);
        try {
          unlinkSync(s.tmp);
        } catch {
          // Not there: nothing to remove.
        }
      }
      throw error;
    }
    return written;
  };

  return { open, commit, discard };
}
