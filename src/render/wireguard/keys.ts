/**
 * WireGuard keys as input to rendering. Rendering stays pure: the target never generates or reads
 * keys itself, it asks a `KeySource`. The CLI backs that with a file store that generates missing
 * pairs (src/cli/keystore.ts); tests back it with fixed, clearly fake pairs.
 *
 * The key pair type, its check and the generator live in src/util/wgkey.ts. Nothing here ever logs a key.
 */
import type { Ir } from '../../ir/types.js';
import type { WgKeyPair } from '../../util/wgkey.js';
import type { Renderer, RenderOptions } from '../types.js';

/** Where keys come from: a name (a host) → its key pair, or undefined when the source has none. */
export interface KeySource {
  keyPair(name: string): WgKeyPair | undefined;
}

export function mapKeySource(pairs: ReadonlyMap<string, WgKeyPair>): KeySource {
  return { keyPair: (name) => pairs.get(name) };
}

/** A target that needs keys: callers ask which names, make sure they exist, and hand them in. */
export interface KeyedRenderer extends Renderer {
  /** Names whose key pairs the target needs (sorted); pairs the spec gives a public key for are not listed. */
  keyNames(ir: Ir, opts: RenderOptions): string[];
  /** The same target, rendering with these keys. */
  withKeys(keys: KeySource): Renderer;
}

export function isKeyedRenderer(r: Renderer): r is KeyedRenderer {
  return typeof (r as Partial<KeyedRenderer>).keyNames === 'function' && typeof (r as Partial<KeyedRenderer>).withKeys === 'function';
}
