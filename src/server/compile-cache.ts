/**
 * Compiled spec versions, shared by everything in the server that analyses a version (the
 * analysis routes, the peer service): a version never changes once stored, so `spec id @ version`
 * is its key and a hit costs neither a database read of its text nor a compile. Small and bounded
 * (least recently used goes first): a few large specs fit.
 */
import { compileText, type Compiled } from './analysis.js';
import type { Store } from './store.js';

export class CompileCache {
  private readonly entries = new Map<string, Compiled>();

  constructor(
    private readonly store: Store,
    private readonly max = 16,
  ) {}

  /** The compiled version; throws the library's Refusal for an invalid text (none is stored, but older data might be). */
  get(specId: number, specName: string, version: number): Compiled {
    const key = `${specId}@${version}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const v = this.store.specVersion(specId, version);
    if (!v) throw new Error(`spec ${specId} has no version ${version}`);
    const c = compileText(v.text, specName);
    this.entries.set(key, c);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return c;
  }
}
