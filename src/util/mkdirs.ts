/**
 * `mkdir -p` for paths the user names, one component at a time. Node's own
 * `mkdirSync(dir, { recursive: true })` reads every ENOENT as "the parent is missing", makes the
 * parent, gets EEXIST and tries again: under /proc (and any file system that refuses a new
 * entry with ENOENT) it never returns. Here each missing component is created once, and the
 * first that cannot be is the error, with that component as its `path`.
 */
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, normalize } from 'node:path';

/** A Node-style file-system error (code, syscall, path), so callers that explain errno codes explain this one too. */
function fsError(code: string, text: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}, mkdir '${path}'`), { code, syscall: 'mkdir', path });
}

/**
 * Makes `dir` and every missing directory above it, each with `mode`. Returns the directories it
 * created, outermost first (empty when `dir` was there already), named as `dir` names them: a
 * relative path stays relative, so an error shows the path the user gave. On failure it removes what it
 * created and throws the error of the component that failed: a path through a regular file is
 * ENOTDIR on the first directory that would go under that file.
 */
export function makeDirs(dir: string, mode = 0o777): string[] {
  const missing: string[] = [];
  for (let d = normalize(dir); ;) {
    let isDir: boolean | undefined;
    try {
      isDir = statSync(d).isDirectory();
    } catch {
      // Missing, or not reachable to look at: mkdir below says which.
    }
    if (isDir === true) break;
    if (isDir === false) throw fsError('ENOTDIR', 'not a directory', missing[0] ?? d);
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  const made: string[] = [];
  try {
    for (const d of missing) {
      try {
        mkdirSync(d, { mode });
        made.push(d);
      } catch (e) {
        // Made meanwhile by someone else, or seen as missing only because stat could not look.
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (!statSync(d).isDirectory()) throw fsError('ENOTDIR', 'not a directory', d);
      }
    }
  } catch (e) {
    removeDirs(made);
    throw e;
  }
  return made;
}

/** Removes directories `makeDirs` made (outermost first, as it returns them), deepest first, each only when empty. */
export function removeDirs(made: readonly string[]): void {
  for (const d of [...made].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // Not empty (something else put a file there) or gone: left as it is.
    }
  }
}
