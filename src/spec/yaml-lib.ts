/**
 * The `yaml` package, loaded on first use. Files the fast reader (fast-yaml.ts) reads never need
 * it, and importing it is ~75 ms of every command's start-up; broken and unusual files load it
 * when they get there.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let lib: typeof Yaml | undefined;

export function yamlLib(): typeof Yaml {
  // The package's Node entry is CommonJS: `require` gives the module `import` would.
  lib ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return lib;
}

/** Line and column (both from 1) of an offset, from the offsets where lines start. */
export class LineTable {
  readonly lineStarts: number[] = [0];

  constructor(text: string) {
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) this.lineStarts.push(nl + 1);
  }

  linePos(offset: number): { line: number; col: number } {
    // The last line starting at or before the offset.
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.lineStarts[lo]! + 1 };
  }
}
