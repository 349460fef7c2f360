/**
 * Peers past the first slice, against a real server and SQLite file: expiry (on the timer and at
 * start, before anything is answered), the tier's peer quota, revoking only one's own peers, the
 * list's live fields when no interface is configured, the device_id cookie in the audit, and bad
 * expiry inputs. The live interface (handshake, transfer, syncconf on revoke) is in
 * server-wireguard.test.ts.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { hashPassword } from '../src/server/secrets.js';
import { AuditEntrySchema, ErrorSchema, PeerCreated, PeerListed, SpecUploaded } from '../src/server/schemas.js';
import { Store } from '../src/server/store.js';
import { testServer, type Client, type TestServer } from './support/server.js';

const SPEC = readFileSync(new URL('../examples/proxmox-dual-bridge.yaml', import.meta.url), 'utf8');
const soon = (ms: number) => new Date(Date.now() + ms).toISOString();

async function until(what: string, f: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}

describe('server: peer expiry, quotas and ownership', () => {
  let t: TestServer;
  let admin: Client;
  let bob: Client;
  let specId = 0;
  const peers = () => `/api/specs/${specId}/tunnels/wg0/peers`;
  const names = async (c: Client) => (await c.req('GET', peers())).as(PeerListed.array()).map((p) => p.name);

  before(async () => {
    t = await testServer({
      sweepIntervalMs: 100,
      quotas: {
        free: { peers: 1, sandboxRunsPerHour: 0, vaultBytes: 0 },
        'early-access': { peers: 2, sandboxRunsPerHour: 1, vaultBytes: 1 },
        admin: { peers: 100, sandboxRunsPerHour: 1, vaultBytes: 1 },
      },
    });
    const store = new Store(join(t.dataDir, 'cordon.db'));
    store.createUser('test', 'bob', await hashPassword('bob-password-1'), 'free');
    store.close();
    admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    bob = t.client();
    assert.equal((await bob.login('bob', 'bob-password-1')).status, 200);
    const up = await admin.req('POST', '/api/specs', { body: { name: 'peers', text: SPEC } });
    assert.equal(up.status, 201, up.text);
    specId = up.as(SpecUploaded).spec.id;
  });
  after(async () => t?.close());

  it('a peer with expires is listed with it, and revoked (out of the hub config) by the timer once it passes', async () => {
    const r = await admin.req('POST', peers(), { body: { name: 'brief', expires: soon(1500) } });
    assert.equal(r.status, 201, r.text);
    const p = r.as(PeerCreated);
    assert.ok(p.expiresAt !== null && Date.parse(p.expiresAt) > Date.now());
    const conf = join(t.dataDir, 'wireguard', `${specId}-wg0.conf`);
    assert.ok(readFileSync(conf, 'utf8').includes(p.publicKey));
    const listed = (await admin.req('GET', peers())).as(PeerListed.array());
    assert.deepEqual(
      listed.map((x) => [x.name, x.expiresAt, x.lastHandshake, x.rxBytes, x.txBytes]),
      [['brief', p.expiresAt, null, 0, 0]],
    );
    assert.equal((await admin.req('GET', peers())).headers.get('x-cordon-wireguard'), 'not-configured');
    await until('the expired peer is gone', async () => !(await names(admin)).includes('brief'));
    assert.ok(!readFileSync(conf, 'utf8').includes(p.publicKey), 'the expired peer left the hub config');
    const audit = (await admin.req('GET', '/api/audit?limit=50')).as(z.object({ entries: z.array(AuditEntrySchema) })).entries;
    const e = audit.find((x) => x.action === 'peer.expire');
    assert.ok(e, 'the expiry is audited');
    assert.equal(e.actor, 'system:expiry');
    assert.match(e.target, /\/wg0\/brief$/);
  });

  it('a peer that expired while the server was down is gone before the restarted server answers anything', async () => {
    const r = await admin.req('POST', peers(), { body: { name: 'overnight', expires: soon(1200) } });
    assert.equal(r.status, 201, r.text);
    await t.server.close();
    await new Promise((res) => setTimeout(res, 1300));
    await t.restart();
    admin = Object.assign(t.client(), { cookie: admin.cookie, csrf: admin.csrf, device: admin.device });
    bob = Object.assign(t.client(), { cookie: bob.cookie, csrf: bob.csrf, device: bob.device });
    assert.ok(!(await names(admin)).includes('overnight'));
  });

  it('refuses an expiry in the past or not in ISO 8601 UTC (400, naming body.expires), storing nothing', async () => {
    for (const expires of [new Date(Date.now() - 1000).toISOString(), 'tomorrow', '2030-01-01T00:00:00+02:00', 12]) {
      const r = await admin.req('POST', peers(), { body: { name: 'never', expires } });
      assert.equal(r.status, 400, `${String(expires)}: ${r.text}`);
      assert.equal(r.as(ErrorSchema).issues?.[0]?.path, 'body.expires');
    }
    assert.ok(!(await names(admin)).includes('never'));
  });

  it("a free account gets its tier's one peer, then 403 naming the quota; it cannot revoke the admin's peers (404) but can its own", async () => {
    const mine = await bob.req('POST', peers(), { body: { name: 'bob-laptop' } });
    assert.equal(mine.status, 201, mine.text);
    const more = await bob.req('POST', peers(), { body: { name: 'bob-phone' } });
    assert.equal(more.status, 403, more.text);
    assert.match(more.as(ErrorSchema).error, /account 'bob' \(tier free\) has 1 active peer, its quota is 1/);
    const theirs = await admin.req('POST', peers(), { body: { name: 'admin-box' } });
    assert.equal(theirs.status, 201, theirs.text);
    const del = await bob.req('DELETE', `${peers()}/${theirs.as(PeerCreated).id}`);
    assert.equal(del.status, 404, del.text);
    assert.ok((await names(admin)).includes('admin-box'), 'still there');
    assert.equal((await bob.req('DELETE', `${peers()}/${mine.as(PeerCreated).id}`)).status, 200);
    assert.equal((await bob.req('POST', peers(), { body: { name: 'bob-phone' } })).status, 201, 'the quota counts active peers only');
  });

  it('the browser’s device_id cookie is set once and named in the audit rows of its changes; a forged value is replaced', async () => {
    assert.match(admin.device ?? '', /^device_id=[0-9a-f-]{36}$/);
    const before = admin.device;
    const r = await admin.req('POST', peers(), { body: { name: 'dev-check' } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.getSetCookie().filter((c) => c.startsWith('device_id=')).length, 0, 'not set again');
    assert.equal(admin.device, before);
    const audit = (await admin.req('GET', '/api/audit?limit=5')).as(z.object({ entries: z.array(AuditEntrySchema) })).entries;
    const row = audit.find((e) => e.action === 'peer.create' && JSON.stringify(e.after).includes('dev-check'));
    assert.equal(row?.device, before!.split('=')[1]);
    const forged = await t.client().req('GET', '/api/health', { headers: { cookie: 'device_id="><script>' } });
    const set = forged.headers.getSetCookie().find((c) => c.startsWith('device_id='));
    assert.match(set ?? '', /^device_id=[0-9a-f-]{36};.*HttpOnly.*SameSite=Strict/);
  });
});
