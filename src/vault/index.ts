/**
 * The per-session encrypted vault: create, put, get, list, destroy (with verification), retrieval
 * over its documents, and a RAM-only mount for a sandbox. See store.ts for the layout on disk and
 * crypto.ts for the blob format.
 */
export {
  createSession,
  putFile,
  getFile,
  listFiles,
  readAll,
  destroySession,
  sessionExists,
  vaultRoot,
  VaultError,
  type VaultErrorCode,
  type VaultOptions,
  type VaultEntry,
  type DestroyResult,
} from './store.js';
export { materialize, vaultMount, type VaultMount } from './mount.js';
export { rank, tokenize, chunkText, asText, type ContextHit, type Chunk, type ContextDoc } from './context.js';

import { readAll, type VaultOptions } from './store.js';
import { asText, rank, type ContextHit } from './context.js';

/** The `k` chunks of `session`'s text documents most relevant to `query` (BM25), decrypted in memory only. */
export function context(session: string, query: string, k = 5, opts: VaultOptions = {}): ContextHit[] {
  const docs = readAll(session, opts).flatMap((f) => {
    const text = asText(f.data);
    return text === undefined ? [] : [{ name: f.name, text }];
  });
  return rank(docs, query, k);
}
