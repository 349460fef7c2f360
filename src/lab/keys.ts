/**
 * Key sources for lab plans: fresh WireGuard pairs (the lab never uses the owner's real keys), or
 * placeholders for plans that are only printed or read for their layout.
 */
import { generateWgKeyPair, type WgKeyPair } from '../util/wgkey.js';

/** One generated pair per (host, tunnel), stable within the plan. */
export function generatedKeys(): (host: string, tunnel: string) => WgKeyPair {
  const cache = new Map<string, WgKeyPair>();
  return (host, tunnel) => {
    const k = `${host}\0${tunnel}`;
    let kp = cache.get(k);
    if (!kp) {
      kp = generateWgKeyPair();
      cache.set(k, kp);
    }
    return kp;
  };
}

/** Placeholder keys for plans that are only printed or used for their layout. */
export function placeholderKeys(): (host: string, tunnel: string) => WgKeyPair {
  return () => ({ privateKey: '<generated>', publicKey: '<generated>' });
}
