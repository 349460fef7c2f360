/**
 * The server's whole data layer: the only module that knows SQL. Everything above it calls the
 * `Store` methods, so a network database could replace SQLite by implementing the same interface.
 * Every write runs in a transaction together with its audit row (`audited`), so a change and its
 * record of who did it either both happen or neither does.
 *
 * Secrets never reach this module in the clear: passwords arrive as argon2id hashes, session ids
 * and API tokens as SHA-256 digests.
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import type { Diagnostic } from '../diag/diagnostic.js';
import type { JobRequest, JobStore, StoredJob } from './jobs.js';

export const TIERS = ['free', 'early-access', 'admin'] as const;
export type Tier = (typeof TIERS)[number];

export interface User {
  readonly id: number;
  readonly name: string;
  readonly tier: Tier;
  readonly createdAt: string;
  /** A disabled account cannot log in, and its sessions and tokens stop working at once. */
  readonly disabled: boolean;
}

export interface Session {
  readonly userId: number;
  readonly csrf: string;
  readonly expiresAt: number;
}

export interface ApiToken {
  readonly id: string;
  readonly userId: number;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly createdAt: string;
  readonly revoked: boolean;
}

export interface SpecSummary {
  readonly id: number;
  readonly name: string;
  readonly createdAt: string;
  readonly latestVersion: number;
}

export interface SpecVersion {
  readonly specId: number;
  readonly version: number;
  readonly text: string;
  readonly sha256: string;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface WgPeer {
  readonly id: number;
  readonly specId: number;
  readonly tunnel: string;
  readonly name: string;
  /** IPv4 address as a number (src/util/ip.ts). */
  readonly address: number;
  readonly publicKey: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly revoked: boolean;
  /** ISO 8601; the peer is revoked when it passes. Null: never expires. */
  readonly expiresAt: string | null;
  /** The account that made it (null for peers made before accounts were counted). */
  readonly ownerId: number | null;
}

interface PeerRow {
  id: number;
  spec_id: number;
  tunnel: string;
  name: string;
  address: number;
  public_key: string;
  created_by: string;
  created_at: string;
  revoked: number;
  expires_at: string | null;
  owner_id: number | null;
}

const toPeer = (r: PeerRow): WgPeer => ({
  id: r.id,
  specId: r.spec_id,
  tunnel: r.tunnel,
  name: r.name,
  address: r.address,
  publicKey: r.public_key,
  createdBy: r.created_by,
  createdAt: r.created_at,
  revoked: r.revoked !== 0,
  expiresAt: r.expires_at,
  ownerId: r.owner_id,
});

export interface AuditEntry {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
  /** The browser's device_id cookie when the change came from a browser; null otherwise. */
  readonly device: string | null;
}

export interface VaultSessionRow {
  /** The vault's session name (random, `v_<hex>`). */
  readonly id: string;
  readonly userId: number;
  /** The login session's digest it belongs to (it ends with it), or null when made with a token. */
  readonly loginSession: string | null;
  readonly createdAt: string;
  /** Epoch ms; the vault session is destroyed when it passes. */
  readonly expiresAt: number;
  readonly destroyedAt: string | null;
}

/** Who made a change, as the audit log names them: `user:admin`, `token:ab12… (user admin)`, `stripe`. */
export type Actor = string;

/**
 * Schema migrations, applied in order; `user_version` records how many ran. Append, never edit:
 * a data directory written by an older server must upgrade by running the missing tail.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
     tier TEXT NOT NULL CHECK (tier IN ('free','early-access','admin')), created_at TEXT NOT NULL);
   CREATE TABLE sessions (
     id_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     csrf TEXT NOT NULL, created_at TEXT NOT NULL, expires_at INTEGER NOT NULL);
   CREATE TABLE api_tokens (
     id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, name TEXT NOT NULL,
     hash TEXT NOT NULL, scopes TEXT NOT NULL, created_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
   CREATE TABLE specs (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
   CREATE TABLE spec_versions (
     spec_id INTEGER NOT NULL REFERENCES specs(id), version INTEGER NOT NULL, text TEXT NOT NULL,
     sha256 TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (spec_id, version));
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
     before TEXT, after TEXT);
   CREATE TABLE webhook_events (id TEXT PRIMARY KEY, type TEXT NOT NULL, received_at TEXT NOT NULL);`,
  `CREATE TABLE wg_peers (
     id INTEGER PRIMARY KEY, spec_id INTEGER NOT NULL REFERENCES specs(id), tunnel TEXT NOT NULL, name TEXT NOT NULL,
     address INTEGER NOT NULL, public_key TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
     revoked INTEGER NOT NULL DEFAULT 0);
   CREATE UNIQUE INDEX wg_peers_active_name ON wg_peers (spec_id, tunnel, name) WHERE revoked = 0;
   CREATE UNIQUE INDEX wg_peers_active_address ON wg_peers (spec_id, tunnel, address) WHERE revoked = 0;`,
  `CREATE TABLE events (
     id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, reporter TEXT NOT NULL, time TEXT NOT NULL, type TEXT NOT NULL,
     host TEXT NOT NULL, body TEXT NOT NULL);
   CREATE INDEX events_time ON events (time);`,
  // Accounts can be disabled; peers can expire and belong to whoever made them (the tier's peer
  // quota counts them); the audit names the browser (device_id cookie); vault sessions and
  // sandbox runs (the hourly quota counts them, across restarts).
  `ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE wg_peers ADD COLUMN expires_at TEXT;
   ALTER TABLE wg_peers ADD COLUMN owner_id INTEGER;
   ALTER TABLE audit ADD COLUMN device TEXT;
   ALTER TABLE spec_versions ADD COLUMN hosts INTEGER;
   CREATE TABLE vault_sessions (
     id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, login_session TEXT,
     created_at TEXT NOT NULL, expires_at INTEGER NOT NULL, destroyed_at TEXT);
   CREATE TABLE sandbox_runs (
     id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, started_at INTEGER NOT NULL,
     language TEXT NOT NULL);
   CREATE INDEX sandbox_runs_user ON sandbox_runs (user_id, started_at);`,
  // Background jobs outlive a restart: a finished one keeps its result for the client still
  // polling it; an unfinished one keeps its request and runs again.
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY, owner_id INTEGER NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, job_key TEXT NOT NULL,
     request TEXT, state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed')), created_at TEXT NOT NULL,
     finished_at TEXT, steps INTEGER, result TEXT, error TEXT, diagnostics TEXT);
   CREATE INDEX jobs_finished ON jobs (finished_at);`,
];

interface UserRow {
  id: number;
  name: string;
  tier: Tier;
  created_at: string;
  password_hash: string;
  disabled: number;
}

interface TokenRow {
  id: string;
  user_id: number;
  name: string;
  hash: string;
  scopes: string;
  created_at: string;
  revoked: number;
}

const toUser = (r: UserRow): User => ({ id: r.id, name: r.name, tier: r.tier, createdAt: r.created_at, disabled: r.disabled !== 0 });
const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  scopes: JSON.parse(r.scopes) as string[],
  createdAt: r.created_at,
  revoked: r.revoked !== 0,
});

interface VaultRow {
  id: string;
  user_id: number;
  login_session: string | null;
  created_at: string;
  expires_at: number;
  destroyed_at: string | null;
}

const toVault = (r: VaultRow): VaultSessionRow => ({
  id: r.id,
  userId: r.user_id,
  loginSession: r.login_session,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  destroyedAt: r.destroyed_at,
});

interface JobRow {
  id: string;
  owner_id: number;
  kind: StoredJob['kind'];
  subject: string;
  job_key: string;
  request: string | null;
  state: StoredJob['state'];
  created_at: string;
  finished_at: string | null;
  steps: number | null;
  error: string | null;
  diagnostics: string | null;
}

const toJob = (r: JobRow): StoredJob => ({
  id: r.id,
  ownerId: r.owner_id,
  kind: r.kind,
  subject: r.subject,
  key: r.job_key,
  request: r.request === null ? null : (JSON.parse(r.request) as JobRequest),
  state: r.state,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
  steps: r.steps,
  error: r.error,
  diagnostics: r.diagnostics === null ? null : (JSON.parse(r.diagnostics) as Diagnostic[]),
});

export class Store implements JobStore {
  private readonly db: Database.Database;
  private readonly now: () => Date;
  private readonly device: () => string | undefined;

  /**
   * Opens (creating if needed, mode 0600) the database file and brings its schema up to date.
   * `device` names the browser behind the current change (the app reads it from the request's
   * context), so every audit row records it without each method passing it along.
   */
  constructor(file: string, opts: { now?: () => Date; device?: () => string | undefined } = {}) {
    const fresh = !existsSync(file);
    this.db = new Database(file);
    if (fresh) chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.now = opts.now ?? (() => new Date());
    this.device = opts.device ?? (() => undefined);
    this.migrate();
  }

  close(): void {
    this.db.close();
  }

  /** How many migrations this database has run (for tests and `/metrics`). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const have = this.schemaVersion();
    if (have > MIGRATIONS.length)
      throw new Error(`the data directory's database has schema version ${have}, newer than this cordon knows (${MIGRATIONS.length}); upgrade cordon`);
    for (let v = have; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private iso(): string {
    return this.now().toISOString();
  }

  /** Runs `change` and writes its audit row in one transaction; returns what `change` returned. */
  private audited<T>(actor: Actor, action: string, target: string, change: () => { before: unknown; after: unknown; result: T }): T {
    return this.db.transaction(() => {
      const { before, after, result } = change();
      this.db
        .prepare('INSERT INTO audit (at, actor, action, target, before, after, device) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(
          this.iso(),
          actor,
          action,
          target,
          before === undefined ? null : JSON.stringify(before),
          after === undefined ? null : JSON.stringify(after),
          this.device() ?? null,
        );
      return result;
    })();
  }

  // ---- users ----

  createUser(actor: Actor, name: string, passwordHash: string, tier: Tier): User {
    return this.audited(actor, 'user.create', `user:${name}`, () => {
      const at = this.iso();
      const id = Number(
        this.db.prepare('INSERT INTO users (name, password_hash, tier, created_at) VALUES (?, ?, ?, ?)').run(name, passwordHash, tier, at).lastInsertRowid,
      );
      const user: User = { id, name, tier, createdAt: at, disabled: false };
      return { before: undefined, after: user, result: user };
    });
  }

  userByName(name: string): User | undefined {
    return this.credentialsOf(name)?.user;
  }

  /** The account and its password hash, kept apart so the hash never rides along in a `User`. */
  credentialsOf(name: string): { user: User; passwordHash: string } | undefined {
    const r = this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
    return r && { user: toUser(r), passwordHash: r.password_hash };
  }

  userById(id: number): User | undefined {
    const r = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return r && toUser(r);
  }

  countUsers(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  setTier(actor: Actor, userId: number, tier: Tier): User | undefined {
    const before = this.userById(userId);
    if (!before) return undefined;
    return this.audited(actor, 'user.tier', `user:${before.name}`, () => {
      this.db.prepare('UPDATE users SET tier = ? WHERE id = ?').run(tier, userId);
      const after = this.userById(userId)!;
      return { before: { tier: before.tier }, after: { tier: after.tier }, result: after };
    });
  }

  /** Every account, by name. */
  listUsers(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  /** Sets the password hash and ends the account's sessions but `keepSession` (the caller's own, by digest). */
  setPassword(actor: Actor, userId: number, passwordHash: string, keepSession?: string): User | undefined {
    const user = this.userById(userId);
    if (!user) return undefined;
    return this.audited(actor, 'user.password', `user:${user.name}`, () => {
      this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, userId);
      // A new password ends every other way in made with the old one: sessions. (Tokens stay: they were given out on purpose.)
      this.db.prepare('DELETE FROM sessions WHERE user_id = ? AND id_hash IS NOT ?').run(userId, keepSession ?? null);
      return { before: undefined, after: { password: 'changed' }, result: user };
    });
  }

  /** Disables (or enables) an account; disabling also ends its sessions. */
  setDisabled(actor: Actor, userId: number, disabled: boolean): User | undefined {
    const before = this.userById(userId);
    if (!before) return undefined;
    return this.audited(actor, disabled ? 'user.disable' : 'user.enable', `user:${before.name}`, () => {
      this.db.prepare('UPDATE users SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, userId);
      if (disabled) this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId);
      return { before: { disabled: before.disabled }, after: { disabled }, result: this.userById(userId)! };
    });
  }

  // ---- sessions (not audited: logging in is not a change to anything the audit log covers) ----

  createSession(idHash: string, userId: number, csrf: string, expiresAt: number): void {
    this.db
      .prepare('INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(idHash, userId, csrf, this.iso(), expiresAt);
  }

  sessionByHash(idHash: string): Session | undefined {
    const r = this.db.prepare('SELECT user_id, csrf, expires_at FROM sessions WHERE id_hash = ?').get(idHash) as
      { user_id: number; csrf: string; expires_at: number } | undefined;
    if (!r) return undefined;
    if (r.expires_at <= this.now().getTime()) {
      this.deleteSession(idHash);
      return undefined;
    }
    return { userId: r.user_id, csrf: r.csrf, expiresAt: r.expires_at };
  }

  deleteSession(idHash: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
  }

  // ---- API tokens ----

  createToken(actor: Actor, t: { id: string; userId: number; name: string; hash: string; scopes: readonly string[] }): ApiToken {
    return this.audited(actor, 'token.create', `token:${t.id}`, () => {
      this.db
        .prepare('INSERT INTO api_tokens (id, user_id, name, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(t.id, t.userId, t.name, t.hash, JSON.stringify(t.scopes), this.iso());
      const token = this.tokenById(t.id)!.token;
      return { before: undefined, after: token, result: token };
    });
  }

  /** The token and its stored digest (for the caller's constant-time compare). */
  tokenById(id: string): { token: ApiToken; hash: string } | undefined {
    const r = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return r && { token: toToken(r), hash: r.hash };
  }

  tokensOf(userId: number): ApiToken[] {
    return (this.db.prepare('SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created_at, id').all(userId) as TokenRow[]).map(toToken);
  }

  revokeToken(actor: Actor, id: string): ApiToken | undefined {
    const before = this.tokenById(id)?.token;
    if (!before) return undefined;
    return this.audited(actor, 'token.revoke', `token:${id}`, () => {
      this.db.prepare('UPDATE api_tokens SET revoked = 1 WHERE id = ?').run(id);
      const after = this.tokenById(id)!.token;
      return { before: { revoked: before.revoked }, after: { revoked: after.revoked }, result: after };
    });
  }

  // ---- specs ----

  /** Adds a version of the spec called `name`, creating the spec on its first upload. */
  addSpecVersion(actor: Actor, name: string, text: string, sha256: string, hosts?: number): { spec: SpecSummary; version: SpecVersion } {
    return this.audited(actor, 'spec.upload', `spec:${name}`, () => {
      const at = this.iso();
      let spec = this.db.prepare('SELECT id FROM specs WHERE name = ?').get(name) as { id: number } | undefined;
      if (!spec) spec = { id: Number(this.db.prepare('INSERT INTO specs (name, created_at) VALUES (?, ?)').run(name, at).lastInsertRowid) };
      const prev = this.db.prepare('SELECT max(version) AS v, sha256 FROM spec_versions WHERE spec_id = ?').get(spec.id) as {
        v: number | null;
        sha256: string | null;
      };
      const version = (prev.v ?? 0) + 1;
      this.db
        .prepare('INSERT INTO spec_versions (spec_id, version, text, sha256, created_by, created_at, hosts) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(spec.id, version, text, sha256, actor, at, hosts ?? null);
      const before = prev.v === null ? undefined : { version: prev.v, sha256: this.specVersion(spec.id, prev.v)!.sha256 };
      return { before, after: { version, sha256 }, result: { spec: this.spec(spec.id)!, version: this.specVersion(spec.id, version)! } };
    });
  }

  listSpecs(): SpecSummary[] {
    return (
      this.db
        .prepare(
          'SELECT s.id, s.name, s.created_at, max(v.version) AS latest FROM specs s JOIN spec_versions v ON v.spec_id = s.id GROUP BY s.id ORDER BY s.name',
        )
        .all() as { id: number; name: string; created_at: string; latest: number }[]
    ).map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, latestVersion: r.latest }));
  }

  spec(id: number): SpecSummary | undefined {
    const r = this.db
      .prepare('SELECT s.id, s.name, s.created_at, max(v.version) AS latest FROM specs s JOIN spec_versions v ON v.spec_id = s.id WHERE s.id = ? GROUP BY s.id')
      .get(id) as { id: number; name: string; created_at: string; latest: number } | undefined;
    return r && { id: r.id, name: r.name, createdAt: r.created_at, latestVersion: r.latest };
  }

  specVersions(id: number): Omit<SpecVersion, 'text'>[] {
    return (
      this.db.prepare('SELECT spec_id, version, sha256, created_by, created_at FROM spec_versions WHERE spec_id = ? ORDER BY version').all(id) as {
        spec_id: number;
        version: number;
        sha256: string;
        created_by: string;
        created_at: string;
      }[]
    ).map((r) => ({ specId: r.spec_id, version: r.version, sha256: r.sha256, createdBy: r.created_by, createdAt: r.created_at }));
  }

  specVersion(id: number, version: number): SpecVersion | undefined {
    const r = this.db.prepare('SELECT * FROM spec_versions WHERE spec_id = ? AND version = ?').get(id, version) as
      { spec_id: number; version: number; text: string; sha256: string; created_by: string; created_at: string } | undefined;
    return r && { specId: r.spec_id, version: r.version, text: r.text, sha256: r.sha256, createdBy: r.created_by, createdAt: r.created_at };
  }

  /** The version's host count as measured at upload (null for versions uploaded before it was recorded). */
  specVersionHosts(id: number, version: number): number | null {
    const r = this.db.prepare('SELECT hosts FROM spec_versions WHERE spec_id = ? AND version = ?').get(id, version) as { hosts: number | null } | undefined;
    return r?.hosts ?? null;
  }

  // ---- audit ----

  /** Newest first; `beforeId` pages backwards. */
  audit(opts: { limit: number; beforeId?: number | undefined }): AuditEntry[] {
    const rows = this.db.prepare('SELECT * FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?').all(opts.beforeId ?? Number.MAX_SAFE_INTEGER, opts.limit) as {
      id: number;
      at: string;
      actor: string;
      action: string;
      target: string;
      before: string | null;
      after: string | null;
      device: string | null;
    }[];
    return rows.map((r) => ({
      device: r.device,
      id: r.id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      target: r.target,
      before: r.before === null ? null : (JSON.parse(r.before) as unknown),
      after: r.after === null ? null : (JSON.parse(r.after) as unknown),
    }));
  }

  // ---- WireGuard peers ----

  /** Active (not revoked) peers of a tunnel, by address. */
  activePeers(specId: number, tunnel: string): WgPeer[] {
    return (this.db.prepare('SELECT * FROM wg_peers WHERE spec_id = ? AND tunnel = ? AND revoked = 0 ORDER BY address').all(specId, tunnel) as PeerRow[]).map(
      toPeer,
    );
  }

  peer(id: number): WgPeer | undefined {
    const r = this.db.prepare('SELECT * FROM wg_peers WHERE id = ?').get(id) as PeerRow | undefined;
    return r && toPeer(r);
  }

  /**
   * Adds a peer with the address `pick` chooses from the active peers' addresses, in one
   * transaction (two concurrent creations cannot take the same address); then `after` runs inside
   * the same transaction (the caller writes the hub's config there, so a failed write undoes the row).
   */
  addPeer(
    actor: Actor,
    p: { specId: number; tunnel: string; name: string; publicKey: string; expiresAt?: string | undefined; ownerId?: number | undefined },
    pick: (used: ReadonlySet<number>) => number,
    after: (peers: WgPeer[]) => void,
  ): WgPeer {
    return this.audited(actor, 'peer.create', `peer:${p.specId}/${p.tunnel}/${p.name}`, () => {
      const used = new Set(this.activePeers(p.specId, p.tunnel).map((x) => x.address));
      const address = pick(used);
      const id = Number(
        this.db
          .prepare(
            'INSERT INTO wg_peers (spec_id, tunnel, name, address, public_key, created_by, created_at, expires_at, owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(p.specId, p.tunnel, p.name, address, p.publicKey, actor, this.iso(), p.expiresAt ?? null, p.ownerId ?? null).lastInsertRowid,
      );
      after(this.activePeers(p.specId, p.tunnel));
      const peer = this.peer(id)!;
      return {
        before: undefined,
        after: { name: peer.name, address: peer.address, publicKey: peer.publicKey, ...(peer.expiresAt ? { expiresAt: peer.expiresAt } : {}) },
        result: peer,
      };
    });
  }

  /** Active peers whose expiry is at or before `nowIso`, oldest expiry first. */
  expiredPeers(nowIso: string): WgPeer[] {
    return (
      this.db
        .prepare('SELECT * FROM wg_peers WHERE revoked = 0 AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id')
        .all(nowIso) as PeerRow[]
    ).map(toPeer);
  }

  /** How many active peers an account owns (the tier's peer quota). */
  activePeersOf(userId: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM wg_peers WHERE revoked = 0 AND owner_id = ?').get(userId) as { n: number }).n;
  }

  revokePeer(actor: Actor, id: number, after: (peers: WgPeer[]) => void, action = 'peer.revoke'): WgPeer | undefined {
    const before = this.peer(id);
    if (!before) return undefined;
    return this.audited(actor, action, `peer:${before.specId}/${before.tunnel}/${before.name}`, () => {
      this.db.prepare('UPDATE wg_peers SET revoked = 1 WHERE id = ?').run(id);
      after(this.activePeers(before.specId, before.tunnel));
      return { before: { revoked: before.revoked }, after: { revoked: true }, result: this.peer(id)! };
    });
  }

  // ---- vault sessions (the files themselves live encrypted in the vault, src/vault) ----

  /** Records a vault session; `create` makes it in the vault inside the same transaction. */
  addVaultSession(actor: Actor, v: { id: string; userId: number; loginSession: string | null; expiresAt: number }, create: () => void): VaultSessionRow {
    return this.audited(actor, 'vault.create', `vault:${v.id}`, () => {
      this.db
        .prepare('INSERT INTO vault_sessions (id, user_id, login_session, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
        .run(v.id, v.userId, v.loginSession, this.iso(), v.expiresAt);
      create();
      const row = this.vaultSession(v.id)!;
      return { before: undefined, after: { expiresAt: new Date(row.expiresAt).toISOString() }, result: row };
    });
  }

  vaultSession(id: string): VaultSessionRow | undefined {
    const r = this.db.prepare('SELECT * FROM vault_sessions WHERE id = ?').get(id) as VaultRow | undefined;
    return r && toVault(r);
  }

  /** A user's live (not destroyed) vault sessions, oldest first. */
  vaultSessionsOf(userId: number): VaultSessionRow[] {
    return (this.db.prepare('SELECT * FROM vault_sessions WHERE user_id = ? AND destroyed_at IS NULL ORDER BY created_at, id').all(userId) as VaultRow[]).map(
      toVault,
    );
  }

  /** Live vault sessions whose time is up at `nowMs`, or that belong to a login session that no longer exists. */
  endedVaultSessions(nowMs: number): VaultSessionRow[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM vault_sessions v WHERE destroyed_at IS NULL AND (expires_at <= ?
             OR (login_session IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id_hash = v.login_session AND s.expires_at > ?)))`,
        )
        .all(nowMs, nowMs) as VaultRow[]
    ).map(toVault);
  }

  /** Marks a vault session destroyed; `destroy` removes it from the vault inside the same transaction, with its verification in the audit. */
  destroyVaultSession(actor: Actor, id: string, reason: string, destroy: () => unknown): VaultSessionRow | undefined {
    if (!this.vaultSession(id)) return undefined;
    return this.audited(actor, 'vault.destroy', `vault:${id}`, () => {
      this.db.prepare('UPDATE vault_sessions SET destroyed_at = ? WHERE id = ?').run(this.iso(), id);
      const verified = destroy();
      return { before: undefined, after: { reason, verified }, result: this.vaultSession(id)! };
    });
  }

  /** Records that a vault file was uploaded (its name and size; never its content). */
  auditVaultPut(actor: Actor, id: string, entry: { name: string; size: number; sha256: string }, put: () => void): void {
    this.audited(actor, 'vault.put', `vault:${id}`, () => {
      put();
      return { before: undefined, after: entry, result: undefined };
    });
  }

  // ---- sandbox runs ----

  /** Sandbox runs the account started since `sinceMs` (the hourly quota). */
  sandboxRunsSince(userId: number, sinceMs: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM sandbox_runs WHERE user_id = ? AND started_at >= ?').get(userId, sinceMs) as { n: number }).n;
  }

  /** Counts a run against the quota, if it fits: checked and recorded in one transaction, so concurrent requests cannot both take the last run. */
  takeSandboxRun(actor: Actor, userId: number, language: string, perHour: number): { ok: true } | { ok: false; oldestMs: number } {
    return this.db.transaction(() => {
      const nowMs = this.now().getTime();
      const since = nowMs - 3600_000;
      if (this.sandboxRunsSince(userId, since) >= perHour) {
        const oldest = this.db.prepare('SELECT min(started_at) AS t FROM sandbox_runs WHERE user_id = ? AND started_at >= ?').get(userId, since) as {
          t: number | null;
        };
        return { ok: false as const, oldestMs: oldest.t ?? nowMs };
      }
      return this.audited(actor, 'sandbox.run', `user:${userId}`, () => {
        this.db.prepare('INSERT INTO sandbox_runs (user_id, started_at, language) VALUES (?, ?, ?)').run(userId, nowMs, language);
        return { before: undefined, after: { language }, result: { ok: true as const } };
      });
    })();
  }

  // ---- guard events (not audited: they report what happened, they change nothing) ----

  /** Stores a batch of events in one transaction; returns their ids. */
  addEvents(reporter: Actor, events: readonly { time: string; type: string; host: string; body: unknown }[]): number[] {
    return this.db.transaction(() => {
      const at = this.iso();
      const insert = this.db.prepare('INSERT INTO events (received_at, reporter, time, type, host, body) VALUES (?, ?, ?, ?, ?, ?)');
      return events.map((e) => Number(insert.run(at, reporter, e.time, e.type, e.host, JSON.stringify(e.body)).lastInsertRowid));
    })();
  }

  /** Newest first (by id), filtered; `beforeId` pages backwards. */
  events(f: {
    type?: string | undefined;
    host?: string | undefined;
    since?: string | undefined;
    until?: string | undefined;
    beforeId?: number | undefined;
    limit: number;
  }): {
    id: number;
    receivedAt: string;
    reporter: string;
    event: unknown;
  }[] {
    const where = ['id < @before'];
    if (f.type !== undefined) where.push('type = @type');
    if (f.host !== undefined) where.push('host = @host');
    if (f.since !== undefined) where.push('time >= @since');
    if (f.until !== undefined) where.push('time < @until');
    const rows = this.db.prepare(`SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`).all({
      before: f.beforeId ?? Number.MAX_SAFE_INTEGER,
      type: f.type,
      host: f.host,
      since: f.since,
      until: f.until,
      limit: f.limit,
    }) as { id: number; received_at: string; reporter: string; body: string }[];
    return rows.map((r) => ({ id: r.id, receivedAt: r.received_at, reporter: r.reporter, event: JSON.parse(r.body) as unknown }));
  }

  /** Row counts for /metrics. */
  counts(): { specs: number; peers: number; events: number; users: number } {
    const n = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      specs: n('SELECT count(*) AS n FROM specs'),
      peers: n('SELECT count(*) AS n FROM wg_peers WHERE revoked = 0'),
      events: n('SELECT count(*) AS n FROM events'),
      users: n('SELECT count(*) AS n FROM users'),
    };
  }

  // ---- background jobs (not audited: computations on stored versions, they change nothing) ----

  insertJob(j: StoredJob): void {
    this.db
      .prepare(
        'INSERT INTO jobs (id, owner_id, kind, subject, job_key, request, state, created_at, finished_at, steps, error, diagnostics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        j.id,
        j.ownerId,
        j.kind,
        j.subject,
        j.key,
        j.request === null ? null : JSON.stringify(j.request),
        j.state,
        j.createdAt,
        j.finishedAt,
        j.steps,
        j.error,
        j.diagnostics === null ? null : JSON.stringify(j.diagnostics),
      );
  }

  finishJob(
    id: string,
    end: { state: 'done' | 'failed'; finishedAt: string; steps: number; resultJson?: string; error?: string; diagnostics?: readonly Diagnostic[] },
  ): void {
    this.db
      .prepare('UPDATE jobs SET state = ?, finished_at = ?, steps = ?, result = ?, error = ?, diagnostics = ?, request = NULL WHERE id = ?')
      .run(end.state, end.finishedAt, end.steps, end.resultJson ?? null, end.error ?? null, end.diagnostics ? JSON.stringify(end.diagnostics) : null, id);
  }

  liveJobs(sinceIso: string): StoredJob[] {
    const rows = this.db
      .prepare(
        'SELECT id, owner_id, kind, subject, job_key, request, state, created_at, finished_at, steps, error, diagnostics FROM jobs WHERE finished_at IS NULL OR finished_at >= ? ORDER BY created_at, rowid',
      )
      .all(sinceIso) as JobRow[];
    return rows.map(toJob);
  }

  jobResult(id: string): string | undefined {
    const r = this.db.prepare("SELECT result FROM jobs WHERE id = ? AND state = 'done'").get(id) as { result: string | null } | undefined;
    return r?.result ?? undefined;
  }

  forgetJobs(beforeIso: string): void {
    this.db.prepare('DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?').run(beforeIso);
  }

  // ---- billing webhooks ----

  /**
   * Records a webhook event id and applies `effect` in the same transaction, unless the id was seen
   * before (a replay, or Stripe retrying): then nothing happens and it returns false.
   */
  onceForEvent(eventId: string, type: string, effect: () => void): boolean {
    return this.db.transaction(() => {
      const r = this.db.prepare('INSERT OR IGNORE INTO webhook_events (id, type, received_at) VALUES (?, ?, ?)').run(eventId, type, this.iso());
      if (r.changes === 0) return false;
      effect();
      return true;
    })();
  }
}
