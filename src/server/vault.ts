/**
 * Vault sessions over HTTP, on the library's vault (src/vault): each session's files are encrypted
 * at rest under `<data>/vault` with a key of its own, and belong to the account that made the
 * session. A session ends (destroyed with verification: key shredded first, every blob
 * overwritten, nothing under the vault root left carrying its id) when its owner says so, when its
 * time is up, or when the login session it was made in ends (logout or expiry); the sweep checks
 * at start and on its timer.
 *
 * File contents are never logged or audited: the audit records names, sizes and digests.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  context,
  createSession,
  destroySession,
  listFiles,
  putFile,
  VaultError,
  type DestroyResult,
  type VaultEntry,
  type VaultOptions,
} from '../vault/index.js';
import type { ServerSettings } from './config.js';
import { HttpError } from './errors.js';
import type { Actor, Store, User, VaultSessionRow } from './store.js';

export function vaultSessionJson(v: VaultSessionRow) {
  return { id: v.id, createdAt: v.createdAt, expiresAt: new Date(v.expiresAt).toISOString(), boundToLogin: v.loginSession !== null };
}

/** A vault library refusal as an HTTP answer (its messages carry no key material and no content). */
function vaultHttp(e: unknown): never {
  if (e instanceof VaultError) {
    const status = e.code === 'no-such-session' || e.code === 'not-found' ? 404 : e.code === 'invalid' ? 400 : e.code === 'locked' ? 409 : 500;
    throw new HttpError(status, `vault: ${e.message}`);
  }
  throw e;
}

export class VaultService {
  private readonly opts: VaultOptions;

  constructor(
    private readonly store: Store,
    private readonly settings: ServerSettings,
  ) {
    this.opts = { root: settings.vaultDir };
  }

  /** A new session for `user`, ending with the login session `loginSession` (when made with a cookie) or after `ttlS` at the latest. */
  create(actor: Actor, user: User, loginSession: string | undefined, loginExpiresAt: number | undefined, ttlS: number | undefined): VaultSessionRow {
    const max = this.settings.vaultTtlMs;
    const ttl = Math.min(ttlS === undefined ? max : ttlS * 1000, max);
    const expiresAt = Math.min(Date.now() + ttl, loginExpiresAt ?? Number.MAX_SAFE_INTEGER);
    const id = `v_${randomBytes(16).toString('hex')}`;
    return this.store.addVaultSession(actor, { id, userId: user.id, loginSession: loginSession ?? null, expiresAt }, () => createSession(id, this.opts));
  }

  /** The caller's live session, or 404 (someone else's session is reported as unknown: ids are not to be probed). */
  owned(id: string, user: User): VaultSessionRow {
    const v = this.store.vaultSession(id);
    if (!v || v.destroyedAt !== null || v.userId !== user.id || v.expiresAt <= Date.now()) throw new HttpError(404, `no vault session '${id}'`);
    return v;
  }

  list(user: User): VaultSessionRow[] {
    return this.store.vaultSessionsOf(user.id).filter((v) => v.expiresAt > Date.now());
  }

  files(v: VaultSessionRow): VaultEntry[] {
    try {
      return listFiles(v.id, this.opts);
    } catch (e) {
      return vaultHttp(e);
    }
  }

  /** Bytes in all of the user's live sessions (the tier's vault quota). */
  bytesOf(userId: number): number {
    let n = 0;
    for (const v of this.store.vaultSessionsOf(userId))
      try {
        for (const f of listFiles(v.id, this.opts)) n += f.size;
      } catch {
        // a session destroyed meanwhile holds nothing
      }
    return n;
  }

  put(actor: Actor, user: User, v: VaultSessionRow, name: string, data: Buffer): VaultEntry & { replaced: boolean } {
    const quota = this.settings.quotas[user.tier].vaultBytes;
    const replaced = this.files(v).find((f) => f.name === name)?.size ?? 0;
    const used = this.bytesOf(user.id) - replaced;
    if (used + data.length > quota)
      throw new HttpError(
        413,
        `vault quota: account '${user.name}' (tier ${user.tier}) holds ${used} bytes; ${data.length} more would pass its ${quota} bytes`,
      );
    let entry: (VaultEntry & { replaced: boolean }) | undefined;
    try {
      this.store.auditVaultPut(actor, v.id, { name, size: data.length, sha256: createHash('sha256').update(data).digest('hex') }, () => {
        entry = putFile(v.id, name, data, this.opts);
      });
    } catch (e) {
      return vaultHttp(e);
    }
    return entry!;
  }

  context(v: VaultSessionRow, query: string, k: number) {
    try {
      return context(v.id, query, k, this.opts);
    } catch (e) {
      return vaultHttp(e);
    }
  }

  /** Destroys the session with verification; the result (shredded objects, key erased, leftovers) is also in the audit. */
  destroy(actor: Actor, v: VaultSessionRow, reason: string): DestroyResult {
    let result: DestroyResult | undefined;
    this.store.destroyVaultSession(actor, v.id, reason, () => {
      try {
        result = destroySession(v.id, this.opts);
      } catch (e) {
        // Already gone from the vault (a crash between the two steps): nothing is left to erase.
        if (!(e instanceof VaultError && e.code === 'no-such-session')) throw e;
        result = { objects: 0, keyErased: false, verified: true, leftovers: [] };
      }
      return { verified: result.verified, objects: result.objects, keyErased: result.keyErased };
    });
    return result!;
  }

  /** Destroys every session whose time is up or whose login session ended; returns their ids. */
  sweep(now = Date.now()): { destroyed: string[]; failed: string[] } {
    const destroyed: string[] = [];
    const failed: string[] = [];
    for (const v of this.store.endedVaultSessions(now)) {
      try {
        const r = this.destroy('system:expiry', v, v.expiresAt <= now ? 'expired' : 'login session ended');
        (r.verified ? destroyed : failed).push(r.verified ? v.id : `${v.id}: leftovers ${r.leftovers.length}`);
      } catch (e) {
        failed.push(`${v.id}: ${(e as Error).message}`);
      }
    }
    return { destroyed, failed };
  }
}
