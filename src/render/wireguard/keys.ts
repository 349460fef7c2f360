/**
 * WireGuard keys as input to rendering. Rendering stays pure: the target never generates or reads
 * keys itself, it asks a `KeySource`. The CLI backs that with a file store that generates missing
 * pairs (src/cli/keystore.ts); tests back it with fixed, clearly fake pairs.
 *
 * Keys are X25519, written as WireGuard writes them: base64 of the raw 32 bytes (`wg genkey`,
 * `wg pubkey`). Nothing here ever logs a key.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { Ir } from '../../ir/types.js';
import type { Renderer, RenderOptions } from '../types.js';

export interface WgKeyPair {
  /** base64 of 32 bytes; the secret half. */
  readonly privateKey: string;
  /** base64 of 32 bytes; X25519(privateKey). */
  readonly publicKey: string;
}

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

/** base64 of exactly 32 bytes, as WireGuard prints keys. */
export function isWgKey(text: string): boolean {
  return /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(text);
}

/** PKCS#8 DER header of an X25519 private key; the raw 32 bytes follow. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The public half of a private key (what `wg pubkey` prints). Deterministic; throws on a malformed key. */
export function publicKeyOf(privateKey: string): string {
  if (!isWgKey(privateKey)) throw new Error('not a WireGuard key (base64 of 32 bytes)');
  const raw = Buffer.from(privateKey, 'base64');
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32).toString('base64');
}

/** A pair from its private half. */
export function keyPairOf(privateKey: string): WgKeyPair {
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}
