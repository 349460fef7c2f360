/**
 * Accounts, tiers and the vault against a real server and SQLite file: an administrator creates,
 * lists, re-tiers and disables accounts (not their own); a user changes their own password; free
 * accounts are refused the vault and the sandbox with seed 002's words; the vault encrypts at rest,
 * answers context queries, counts against the tier's quota, destroys with verification, and is
 * destroyed when its time is up or its login session ends. Bad inputs: each answer names the field.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import {
  AccountCreated,
  AccountSelf,
  AuditEntrySchema,
  ErrorSchema,
  UserSchema,
  VaultContextResponse,
  VaultDestroyed,
  VaultFilesResponse,
  VaultPutResponse,
  VaultSessionSchema,
} from '../src/server/schemas.js';
import { testServer, type Client, type TestServer } from './support/server.js';

const issuePath = (r: { as: (s: typeof ErrorSchema) => z.output<typeof ErrorSchema> }) => r.as(ErrorSchema).issues?.[0]?.path;

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

async function until(what: string, f: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}

describe('server: accounts, tiers and the vault', () => {
  let t: TestServer;
  let admin: Client;
  const ids = new Map<string, number>();
  const passwords = new Map<string, string>();

  async function as(name: string): Promise<Client> {
    const c = t.client();
    const r = await c.login(name, passwords.get(name)!);
    assert.equal(r.status, 200, r.text);
    return c;
  }

  before(async () => {
    t = await testServer({
      sweepIntervalMs: 100,
      // Every test logs in afresh from one address: the brute-force brake is not what these tests are about.
      loginLimit: { max: 1000, windowMs: 60_000 },
      quotas: {
        free: { peers: 1, sandboxRunsPerHour: 0, vaultBytes: 0 },
        'early-access': { peers: 5, sandboxRunsPerHour: 5, vaultBytes: 4096 },
        admin: { peers: 100, sandboxRunsPerHour: 100, vaultBytes: 1 << 20 },
      },
    });
    admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
  });
  after(async () => t?.close());

  describe('accounts', () => {
    it('an admin creates accounts (a generated one-time password, or the one given), lists them, and the new accounts log in', async () => {
      const gen = await admin.req('POST', '/api/accounts', { body: { name: 'eve', tier: 'early-access' } });
      assert.equal(gen.status, 201, gen.text);
      const made = gen.as(AccountCreated);
      assert.equal(made.user.tier, 'early-access');
      assert.ok(made.password && made.password.length >= 20);
      passwords.set('eve', made.password);
      ids.set('eve', made.user.id);
      const given = await admin.req('POST', '/api/accounts', { body: { name: 'fred', password: 'fred-password-1' } });
      assert.equal(given.status, 201, given.text);
      assert.equal(given.as(AccountCreated).user.tier, 'free', 'free unless said otherwise');
      assert.equal(given.as(AccountCreated).password, undefined, 'a given password is never echoed');
      passwords.set('fred', 'fred-password-1');
      ids.set('fred', given.as(AccountCreated).user.id);
      const list = (await admin.req('GET', '/api/accounts')).as(UserSchema.array());
      assert.deepEqual(
        list.map((u) => [u.name, u.tier, u.disabled]),
        [
          ['admin', 'admin', false],
          ['eve', 'early-access', false],
          ['fred', 'free', false],
        ],
      );
      await as('eve');
      await as('fred');
    });

    it('refuses bad account inputs with the field named, a taken name (409), and non-admins (403)', async () => {
      const cases: [unknown, string][] = [
        [{ name: 'X' }, 'body.name'],
        [{ name: 'ok-name', tier: 'gold' }, 'body.tier'],
        [{ name: 'ok-name', password: 'short' }, 'body.password'],
        [{ name: '../etc' }, 'body.name'],
      ];
      for (const [body, path] of cases) {
        const r = await admin.req('POST', '/api/accounts', { body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(issuePath(r), path);
      }
      assert.equal((await admin.req('POST', '/api/accounts', { body: { name: 'eve' } })).status, 409);
      const eve = await as('eve');
      assert.equal((await eve.req('GET', '/api/accounts')).status, 403);
      assert.equal((await eve.req('POST', `/api/accounts/${ids.get('fred')}/tier`, { body: { tier: 'admin' } })).status, 403);
      assert.equal((await admin.req('POST', '/api/accounts/999/tier', { body: { tier: 'free' } })).status, 404);
    });

    it('a user reads their quotas and usage, and changes their own password (wrong current → 403; too short → 400); other sessions end', async () => {
      const fred = await as('fred');
      const other = await as('fred');
      const me = (await fred.req('GET', '/api/account')).as(AccountSelf);
      assert.deepEqual(me.quotas, { peers: 1, sandboxRunsPerHour: 0, vaultBytes: 0, apiCallsPerMinute: 60 });
      assert.deepEqual(me.usage, { peers: 0, sandboxRunsPerHour: 0, vaultBytes: 0 });
      const wrong = await fred.req('POST', '/api/account/password', { body: { current: 'nope', new: 'fred-password-2' } });
      assert.equal(wrong.status, 403);
      const short = await fred.req('POST', '/api/account/password', { body: { current: 'fred-password-1', new: 'x' } });
      assert.equal(short.status, 400);
      assert.equal(issuePath(short), 'body.new');
      const ok = await fred.req('POST', '/api/account/password', { body: { current: 'fred-password-1', new: 'fred-password-2' } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await fred.req('GET', '/api/specs')).status, 200, 'the session that changed it stays');
      assert.equal((await other.req('GET', '/api/specs')).status, 401, 'the other session ended');
      assert.equal((await t.client().login('fred', 'fred-password-1')).status, 401, 'the old password is gone');
      passwords.set('fred', 'fred-password-2');
      await as('fred');
      const audit = (await admin.req('GET', '/api/audit?limit=20')).as(z.object({ entries: z.array(AuditEntrySchema) })).entries;
      const row = audit.find((e) => e.action === 'user.password');
      assert.ok(row && !JSON.stringify(row).includes('fred-password'), 'audited, without the password');
    });

    it('a tier change takes effect at once; an admin cannot change their own tier or disable themselves', async () => {
      const fred = await as('fred');
      assert.equal((await fred.req('POST', '/api/vault/sessions', { body: {} })).status, 403);
      const up = await admin.req('POST', `/api/accounts/${ids.get('fred')}/tier`, { body: { tier: 'early-access' } });
      assert.equal(up.as(UserSchema).tier, 'early-access');
      assert.equal((await fred.req('POST', '/api/vault/sessions', { body: {} })).status, 201, 'the same session, new powers');
      await admin.req('POST', `/api/accounts/${ids.get('fred')}/tier`, { body: { tier: 'free' } });
      const me = (await admin.req('GET', '/api/auth/session')).as(z.object({ user: UserSchema })).user;
      const self = await admin.req('POST', `/api/accounts/${me.id}/tier`, { body: { tier: 'free' } });
      assert.equal(self.status, 409, self.text);
      assert.equal((await admin.req('POST', `/api/accounts/${me.id}/disable`, { body: { disabled: true } })).status, 409);
    });

    it('a disabled account cannot log in, its sessions and tokens stop at once; enabled again, it logs in', async () => {
      const fred = await as('fred');
      const tok = await fred.req('POST', '/api/tokens', { body: { name: 'cli', scopes: ['specs:read'] } });
      const token = tok.as(z.object({ token: z.string() })).token;
      assert.equal((await t.client().req('GET', '/api/specs', { token })).status, 200);
      const off = await admin.req('POST', `/api/accounts/${ids.get('fred')}/disable`, { body: { disabled: true } });
      assert.equal(off.as(UserSchema).disabled, true);
      assert.equal((await fred.req('GET', '/api/specs')).status, 401, 'sessions ended');
      const byToken = await t.client().req('GET', '/api/specs', { token });
      assert.equal(byToken.status, 403);
      assert.match(byToken.as(ErrorSchema).error, /account 'fred' is disabled/);
      const login = await t.client().login('fred', passwords.get('fred')!);
      assert.equal(login.status, 403);
      assert.match(login.as(ErrorSchema).error, /disabled/);
      assert.equal((await t.client().login('fred', 'wrong-password')).status, 401, 'a wrong password still says only that');
      await admin.req('POST', `/api/accounts/${ids.get('fred')}/disable`, { body: { disabled: false } });
      await as('fred');
    });
  });

  describe('free tier', () => {
    it('is refused the vault and the sandbox with seed 002’s message (403), whatever its token says', async () => {
      // Seed 002 (TierManager.check_access) answers a free account with exactly these words, whatever it asked for.
      const SEED = 'Vault requires Early Access subscription';
      const fred = await as('fred');
      const v = await fred.req('POST', '/api/vault/sessions', { body: {} });
      assert.equal(v.status, 403);
      assert.deepEqual(v.json, { error: SEED, tier: 'free', feature: 'vault', requires: 'early-access' });
      assert.equal((await fred.req('GET', '/api/vault/sessions')).as(ErrorSchema).error, SEED);
      const s = await fred.req('POST', '/api/sandbox/run', { body: { code: 'print(1)', language: 'python3' } });
      assert.equal(s.status, 403);
      assert.deepEqual(s.json, { error: SEED, tier: 'free', feature: 'sandbox', requires: 'early-access' });
      const tok = await fred.req('POST', '/api/tokens', { body: { name: 'all', scopes: ['vault:write', 'sandbox:run'] } });
      const token = tok.as(z.object({ token: z.string() })).token;
      assert.equal((await t.client().req('GET', '/api/vault/sessions', { token })).as(ErrorSchema).error, SEED);
    });
  });

  describe('vault', () => {
    let eve: Client;
    let session = '';
    const SECRET_LINE = 'The llama passphrase is vermilion-otter-42.';

    before(async () => {
      eve = await as('eve');
    });

    it('opens a session, stores files encrypted at rest, lists them without contents, and answers a context query', async () => {
      const r = await eve.req('POST', '/api/vault/sessions', { body: { ttlSeconds: 3600 } });
      assert.equal(r.status, 201, r.text);
      const v = r.as(VaultSessionSchema);
      session = v.id;
      assert.equal(v.boundToLogin, true);
      const put = await eve.req('POST', `/api/vault/sessions/${session}/files`, {
        body: { name: 'notes.txt', text: `Ollama serves the models.\n\n${SECRET_LINE}\n\nAgentFarm talks to Ollama.` },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.as(VaultPutResponse).replaced, false);
      const bin = await eve.req('POST', `/api/vault/sessions/${session}/files`, {
        body: { name: 'blob.bin', base64: Buffer.from([0, 1, 2, 255]).toString('base64') },
      });
      assert.equal(bin.as(VaultPutResponse).size, 4);
      for (const f of filesUnder(join(t.dataDir, 'vault'))) {
        const raw = readFileSync(f);
        assert.ok(!raw.includes('vermilion-otter'), `plaintext in ${f}`);
        assert.equal(statSync(f).mode & 0o077, 0, `${f} is private`);
      }
      const files = (await eve.req('GET', `/api/vault/sessions/${session}/files`)).as(VaultFilesResponse);
      assert.deepEqual(
        files.files.map((f) => [f.name, f.size]),
        [
          ['blob.bin', 4],
          ['notes.txt', Buffer.byteLength(`Ollama serves the models.\n\n${SECRET_LINE}\n\nAgentFarm talks to Ollama.`)],
        ],
      );
      const ctx = (await eve.req('POST', `/api/vault/sessions/${session}/context`, { body: { query: 'llama passphrase', k: 1 } })).as(VaultContextResponse);
      assert.equal(ctx.hits.length, 1);
      assert.ok(ctx.hits[0]!.text.includes(SECRET_LINE), ctx.hits[0]!.text);
      assert.ok(!t.logs.text.includes('vermilion'), 'contents never reach the log');
      const audit = (await admin.req('GET', '/api/audit?limit=50')).text;
      assert.ok(audit.includes('"vault.put"') && !audit.includes('vermilion'), 'audited by name and digest, not content');
    });

    it('refuses bad uploads by field, someone else’s session (404), and uploads past the tier’s quota (413), keeping nothing', async () => {
      const bad: [unknown, string][] = [
        [{ name: '../x', text: 'a' }, 'body.name'],
        [{ name: '..', text: 'a' }, 'body.name'],
        [{ name: 'a.txt' }, 'body.text'],
        [{ name: 'a.txt', text: 'a', base64: 'YQ==' }, 'body.text'],
        [{ name: 'a.txt', base64: '***' }, 'body.base64'],
      ];
      for (const [body, path] of bad) {
        const r = await eve.req('POST', `/api/vault/sessions/${session}/files`, { body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(issuePath(r), path);
      }
      assert.equal((await eve.req('GET', '/api/vault/sessions/not-an-id/files')).status, 400);
      assert.equal((await admin.req('GET', `/api/vault/sessions/${session}/files`)).status, 404, 'not the admin’s session either');
      const big = await eve.req('POST', `/api/vault/sessions/${session}/files`, { body: { name: 'big.txt', text: 'x'.repeat(5000) } });
      assert.equal(big.status, 413, big.text);
      assert.match(big.as(ErrorSchema).error, /vault quota: account 'eve' \(tier early-access\)/);
      const names = (await eve.req('GET', `/api/vault/sessions/${session}/files`)).as(VaultFilesResponse).files.map((f) => f.name);
      assert.deepEqual(names, ['blob.bin', 'notes.txt']);
    });

    it('destroys a session with verification: nothing under the vault root is left of it, and it is gone from the API', async () => {
      const before = filesUnder(join(t.dataDir, 'vault')).length;
      const r = await eve.req('DELETE', `/api/vault/sessions/${session}`);
      assert.equal(r.status, 200, r.text);
      const d = r.as(VaultDestroyed);
      assert.deepEqual([d.verified, d.keyErased, d.objects, d.leftovers], [true, true, 2, 0]);
      assert.ok(filesUnder(join(t.dataDir, 'vault')).length < before);
      assert.ok(!readdirSync(join(t.dataDir, 'vault')).some((n) => n.length === 64), 'no session directory left');
      assert.equal((await eve.req('GET', `/api/vault/sessions/${session}/files`)).status, 404);
      assert.equal((await eve.req('DELETE', `/api/vault/sessions/${session}`)).status, 404);
    });

    it('a session is destroyed by itself when its login session ends (logout), and when its time is up', async () => {
      const c = await as('eve');
      const bound = (await c.req('POST', '/api/vault/sessions', { body: {} })).as(VaultSessionSchema);
      const tok = (await c.req('POST', '/api/tokens', { body: { name: 'v', scopes: ['vault:write'] } })).as(z.object({ token: z.string() })).token;
      const timed = await t.client().req('POST', '/api/vault/sessions', { body: { ttlSeconds: 60 }, token: tok });
      assert.equal(timed.status, 201, timed.text);
      const timedId = timed.as(VaultSessionSchema).id;
      assert.equal(timed.as(VaultSessionSchema).boundToLogin, false);
      assert.equal((await c.req('POST', '/api/auth/logout')).status, 200);
      const ids = async () => (await t.client().req('GET', '/api/vault/sessions', { token: tok })).as(VaultSessionSchema.array()).map((v) => v.id);
      assert.ok(!(await ids()).includes(bound.id), 'destroyed with its login session');
      assert.ok((await ids()).includes(timedId), 'a token-made session lives on');
      const audit = (await admin.req('GET', '/api/audit?limit=50')).as(z.object({ entries: z.array(AuditEntrySchema) })).entries;
      const row = audit.find((e) => e.action === 'vault.destroy' && e.target === `vault:${bound.id}`);
      assert.deepEqual(row?.after, { reason: 'login session ended', verified: { verified: true, objects: 0, keyErased: true } });
      // Time: the store's clock is the wall clock, so the session's expiry is moved into the past through the database file.
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(t.dataDir, 'cordon.db'));
      db.prepare('UPDATE vault_sessions SET expires_at = ? WHERE id = ?').run(Date.now() - 1, timedId);
      db.close();
      assert.ok(!(await ids()).includes(timedId), 'past its time it is no longer served');
      const destroyed = async () =>
        (await admin.req('GET', '/api/audit?limit=50'))
          .as(z.object({ entries: z.array(AuditEntrySchema) }))
          .entries.some((e) => e.action === 'vault.destroy' && e.target === `vault:${timedId}` && e.actor === 'system:expiry');
      await until('the sweep destroys the expired session', destroyed);
      assert.equal(readdirSync(join(t.dataDir, 'vault')).filter((n) => /^[0-9a-f]{64}$/.test(n)).length, 0, 'no session directory is left');
    });
  });
});
