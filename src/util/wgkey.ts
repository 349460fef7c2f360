/**
 * WireGuard key pairs: the one type, the one check, the one derivation and the one generator,
 * for the renderers (which only read keys handed to them), the CLI's key store and the lab.
 *
 * Keys are X25519, written as WireGuard writes them: base64 of the raw 32 bytes (`wg genkey`,
 * `wg pubkey`). Nothing here ever logs a key. Only `generateWgKeyPair` draws randomness; renderers
 * never call it.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

export interface WgKeyPair {
  /** base64 of 32 bytes; the secret half. */
  readonly privateKey: string;
  /** base64 of 32 bytes; X25519(privateKey). */
  readonly publicKey: string;
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

/** A fresh pair (what `wg genkey | tee key | wg pubkey` makes), from node:crypto's X25519. */
export function generateWgKeyPair(): WgKeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  if (typeof d !== 'string') throw new Error('node:crypto returned an X25519 key without its private part');
  return keyPairOf(Buffer.from(d, 'base64url').toString('base64'));
}
