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

export const TIERS = ['free', 'early-access', 'admin'] as const;
export type Tier = (typeof TIERS)[number];

export interface User {
  readonly id: number;
  readonly name: string;
  readonly tier: Tier;
  readonly createdAt: string;
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
});

export interface AuditEntry {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
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
];

interface UserRow {
  id: number;
  name: string;
  tier: Tier;
  created_at: string;
  password_hash: string;
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

const toUser = (r: UserRow): User => ({ id: r.id, name: r.name, tier: r.tier, createdAt: r.created_at });
const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  scopes: JSON.parse(r.scopes) as string[],
  createdAt: r.created_at,
  revoked: r.revoked !== 0,
});

export class Store {
  private readonly db: Database.Database;
  private readonly now: () => Date;

  /** Opens (creating if needed, mode 0600) the database file and brings its schema up to date. */
  constructor(file: string, opts: { now?: () => Date } = {}) {
    const fresh = !existsSync(file);
    this.db = new Database(file);
    if (fresh) chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.now = opts.now ?? (() => new Date());
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
        .prepare('INSERT INTO audit (at, actor, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?)')
        .run(this.iso(), actor, action, target, before === undefined ? null : JSON.stringify(before), after === undefined ? null : JSON.stringify(after));
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
      const user: User = { id, name, tier, createdAt: at };
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
  addSpecVersion(actor: Actor, name: string, text: string, sha256: string): { spec: SpecSummary; version: SpecVersion } {
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
        .prepare('INSERT INTO spec_versions (spec_id, version, text, sha256, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(spec.id, version, text, sha256, actor, at);
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
    }[];
    return rows.map((r) => ({
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
    p: { specId: number; tunnel: string; name: string; publicKey: string },
    pick: (used: ReadonlySet<number>) => number,
    after: (peers: WgPeer[]) => void,
  ): WgPeer {
    return this.audited(actor, 'peer.create', `peer:${p.specId}/${p.tunnel}/${p.name}`, () => {
      const used = new Set(this.activePeers(p.specId, p.tunnel).map((x) => x.address));
      const address = pick(used);
      const id = Number(
        this.db
          .prepare('INSERT INTO wg_peers (spec_id, tunnel, name, address, public_key, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(p.specId, p.tunnel, p.name, address, p.publicKey, actor, this.iso()).lastInsertRowid,
      );
      after(this.activePeers(p.specId, p.tunnel));
      const peer = this.peer(id)!;
      return { before: undefined, after: { name: peer.name, address: peer.address, publicKey: peer.publicKey }, result: peer };
    });
  }

  revokePeer(actor: Actor, id: number, after: (peers: WgPeer[]) => void): WgPeer | undefined {
    const before = this.peer(id);
    if (!before) return undefined;
    return this.audited(actor, 'peer.revoke', `peer:${before.specId}/${before.tunnel}/${before.name}`, () => {
      this.db.prepare('UPDATE wg_peers SET revoked = 1 WHERE id = ?').run(id);
      after(this.activePeers(before.specId, before.tunnel));
      return { before: { revoked: before.revoked }, after: { revoked: true }, result: this.peer(id)! };
    });
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
