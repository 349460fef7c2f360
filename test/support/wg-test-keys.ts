/**
 * TEST-ONLY WireGuard keys. Every pair is derived from a fixed, public seed and the host's name, so
 * golden files are stable and hold no real secret. Anyone can recompute these private keys: never
 * use them for a real tunnel. Real keys come from the CLI's key store (src/cli/keystore.ts).
 */
import { createHash } from 'node:crypto';
import type { KeySource } from '../../src/render/wireguard/keys.js';
import { keyPairOf, type WgKeyPair } from '../../src/util/wgkey.js';

export const TEST_KEY_SEED = 'cordon TEST-ONLY wireguard key, public seed, never use for a real tunnel';

/** A clamped X25519 private key from sha256(seed / name), as `wg genkey` would clamp it. */
export function testKeyPair(name: string, seed = TEST_KEY_SEED): WgKeyPair {
  const b = createHash('sha256').update(`${seed}/${name}`).digest();
  b[0] = b[0]! & 248;
  b[31] = (b[31]! & 127) | 64;
  return keyPairOf(b.toString('base64'));
}

/** A KeySource that knows every name (or only `only`, when given). */
export function testKeySource(only?: readonly string[]): KeySource {
  return { keyPair: (name) => (only && !only.includes(name) ? undefined : testKeyPair(name)) };
}
