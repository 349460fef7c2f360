/**
 * The CLI's WireGuard key store: one directory (0700) with `<name>.key` (the private key, 0600) and
 * `<name>.pub` (its public key, 0600) per host, as `wg genkey` / `wg pubkey` would write them.
 * Missing pairs are generated with X25519 from node:crypto; existing ones are reused, so configs
 * stay stable across renders. Keys never reach stdout, stderr or a diagnostic.
 *
 * Default location: `.cordon/keys/<spec name>/` under the working directory (the spec's file name
 * without extension, not its hash: editing the spec must not rotate every key).
 */
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { mapKeySource, type KeySource } from '../render/wireguard/keys.js';
import { generateWgKeyPair, isWgKey, keyPairOf, type WgKeyPair } from '../util/wgkey.js';
import { EXIT, ExitError } from './io.js';
import { makeDirs } from '../util/mkdirs.js';

export function defaultKeyDir(specFile: string): string {
  const name = basename(specFile, extname(specFile)) || 'spec';
  return join('.cordon', 'keys', name);
}

function refuseOpen(path: string, what: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ExitError(
      EXIT.invalid,
      `${what} ${path} is accessible to others (mode ${mode.toString(8).padStart(3, '0')}): refusing to use it; chmod ${what === 'key directory' ? '700' : '600'} ${path}`,
    );
  }
}

/**
 * Loads the pairs for `names` from `dir`, generating the missing ones. Returns the pairs as a
 * KeySource and the names whose pairs were generated now.
 */
export function openKeyStore(dir: string, names: readonly string[]): { source: KeySource; generated: string[] } {
  const pairs = new Map<string, WgKeyPair>();
  const generated: string[] = [];
  if (names.length === 0) return { source: mapKeySource(pairs), generated };
  if (!existsSync(dir)) {
    makeDirs(dir, 0o700);
    chmodSync(dir, 0o700);
  }
  refuseOpen(dir, 'key directory');
  for (const name of names) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) throw new ExitError(EXIT.invalid, `cannot keep a key for '${name}': not a plain name`);
    const keyPath = join(dir, `${name}.key`);
    const pubPath = join(dir, `${name}.pub`);
    let pair: WgKeyPair;
    if (existsSync(keyPath)) {
      refuseOpen(keyPath, 'private key file');
      const text = readFileSync(keyPath, 'utf8').trim();
      if (!isWgKey(text)) throw new ExitError(EXIT.invalid, `${keyPath} does not hold a WireGuard private key (base64 of 32 bytes)`);
      pair = keyPairOf(text);
      if (existsSync(pubPath) && readFileSync(pubPath, 'utf8').trim() !== pair.publicKey) {
        throw new ExitError(EXIT.invalid, `${pubPath} does not match ${keyPath}: remove the .pub file to have it written again`);
      }
    } else {
      pair = generateWgKeyPair();
      // 'wx': never overwrite a key another process wrote meanwhile.
      writeFileSync(keyPath, `${pair.privateKey}\n`, { mode: 0o600, flag: 'wx' });
      generated.push(name);
    }
    if (!existsSync(pubPath)) writeFileSync(pubPath, `${pair.publicKey}\n`, { mode: 0o600, flag: 'wx' });
    pairs.set(name, pair);
  }
  return { source: mapKeySource(pairs), generated };
}
