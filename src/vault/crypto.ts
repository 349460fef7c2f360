/**
 * The vault's cryptography, over node:crypto only. Every blob on disk has one format:
 *
 *   magic "CDV1" (4) · kind (1) · session id (32) · object id (16) · nonce (12) · ciphertext · GCM tag (16)
 *
 * AES-256-GCM with a random 96-bit nonce per write. The additional authenticated data is the
 * header (magic, kind, session id, object id) built from what the *caller expects*, not read from
 * the file, so a blob copied into another session, renamed to another object or relabelled as
 * another kind fails authentication instead of decrypting.
 *
 * Key wrapping: the per-session key (32 random bytes) is encrypted by the master key with the same
 * AES-256-GCM format (kind `wrappedKey`, object id all zeros), not RFC 3394 AES-KW. Why: GCM
 * authenticates the session id through the AAD, so a wrapped key cannot be moved to another
 * session, and one code path is easier to review than two. Random 96-bit nonces are safe here: the
 * master key wraps one key per session, far below the 2^32 messages per key limit.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const MAGIC = Buffer.from('CDV1', 'ascii');
export const KEY_BYTES = 32;
export const SESSION_ID_BYTES = 32;
export const OBJECT_ID_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Offset of the session id inside a blob: what destroy's verification scans for. */
export const SESSION_ID_OFFSET = MAGIC.length + 1;
export const HEADER_BYTES = MAGIC.length + 1 + SESSION_ID_BYTES + OBJECT_ID_BYTES;
const MIN_BLOB = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;

export const BlobKind = { wrappedKey: 1, index: 2, object: 3 } as const;
export type BlobKind = (typeof BlobKind)[keyof typeof BlobKind];

/** The object id of the wrapped key and of the index: fixed, distinct from random object ids by kind. */
export const ZERO_OBJECT_ID = Buffer.alloc(OBJECT_ID_BYTES);

/** Authentication failed: wrong key, or the blob was tampered with, truncated or moved. */
export class AuthError extends Error {
  constructor(message = 'authentication failed') {
    super(message);
    this.name = 'AuthError';
  }
}

export function header(kind: BlobKind, sessionId: Buffer, objectId: Buffer): Buffer {
  if (sessionId.length !== SESSION_ID_BYTES) throw new Error(`session id must be ${SESSION_ID_BYTES} bytes`);
  if (objectId.length !== OBJECT_ID_BYTES) throw new Error(`object id must be ${OBJECT_ID_BYTES} bytes`);
  return Buffer.concat([MAGIC, Buffer.from([kind]), sessionId, objectId]);
}

export function seal(key: Buffer, kind: BlobKind, sessionId: Buffer, objectId: Buffer, plaintext: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new Error(`key must be ${KEY_BYTES} bytes`);
  const h = header(kind, sessionId, objectId);
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(h);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([h, nonce, body, c.getAuthTag()]);
}

/** Decrypts a blob sealed for exactly (kind, session, object) under `key`; throws AuthError otherwise. */
export function open(key: Buffer, kind: BlobKind, sessionId: Buffer, objectId: Buffer, blob: Buffer): Buffer {
  if (blob.length < MIN_BLOB || !blob.subarray(0, MAGIC.length).equals(MAGIC)) throw new AuthError('not a vault blob (bad magic or truncated)');
  const h = header(kind, sessionId, objectId);
  const nonce = blob.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
  const body = blob.subarray(HEADER_BYTES + NONCE_BYTES, blob.length - TAG_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  d.setAAD(h);
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(body), d.final()]);
  } catch {
    throw new AuthError();
  }
}

export function newKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function newObjectId(): Buffer {
  return randomBytes(OBJECT_ID_BYTES);
}

export function wrapKey(master: Buffer, sessionId: Buffer, sessionKey: Buffer): Buffer {
  return seal(master, BlobKind.wrappedKey, sessionId, ZERO_OBJECT_ID, sessionKey);
}

export function unwrapKey(master: Buffer, sessionId: Buffer, wrapped: Buffer): Buffer {
  const k = open(master, BlobKind.wrappedKey, sessionId, ZERO_OBJECT_ID, wrapped);
  if (k.length !== KEY_BYTES) throw new AuthError('wrapped key has the wrong length');
  return k;
}

/**
 * The session id: HMAC-SHA256 of the session name under the master key. It names the session's
 * directory (hex) and sits in every blob header, so neither leaks the name.
 */
export function sessionIdOf(master: Buffer, name: string): Buffer {
  return createHmac('sha256', master).update('cordon-vault session v1\0').update(name, 'utf8').digest();
}

/** A key check value for the master key: lets a wrong master key be refused with a clear message. */
export function masterCheck(master: Buffer): Buffer {
  return createHmac('sha256', master).update('cordon-vault master check v1').digest().subarray(0, 16);
}

export function equalBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
