/**
 * Every secret the server makes or checks: random values, their digests, password hashing, the
 * cookie-signing key on disk. Nothing here logs; callers never log what these return either.
 *
 * Passwords use argon2id (the `argon2` package, prebuilt binaries for linux-x64, so no compiler is
 * needed): memory-hard, as the issue asks. API tokens and session ids are 256-bit random values, so a
 * plain SHA-256 digest is enough to store them: there is nothing to brute-force.
 */
import argon2 from 'argon2';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

/** A URL-safe random string of `bytes` random bytes. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Compares two strings in time independent of where they differ (length still shows). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** argon2id with the package's defaults (64 MiB, 3 passes, 4 lanes). */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** A hash of a random password nobody knows, verified against when a login names no user, so that unknown and known names take the same time. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomSecret());
  return decoy;
}

/**
 * Reads the secret in `file`, or creates it (random, mode 0600, written to a temporary file and
 * renamed so a crash never leaves half a key).
 */
export function loadOrCreateSecretFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const value = randomSecret(32);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${value}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return value;
}

/** API token format: `cordon_<id>_<secret>`; the id finds the row, the secret's digest is compared. */
export function newApiToken(): { id: string; token: string; hash: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomSecret(32);
  return { id, token: `cordon_${id}_${secret}`, hash: sha256(secret) };
}

export function parseApiToken(token: string): { id: string; secret: string } | undefined {
  const m = /^cordon_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}
