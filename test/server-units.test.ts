/** The server's pure parts, table-driven: Stripe signature checks, next free tunnel address, rate limiting, and schema migrations of an older database. */
import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadModelFromText } from '../src/model/load.js';
import { RateLimiter } from '../src/server/ratelimit.js';
import { Store } from '../src/server/store.js';
import { verifyStripeSignature } from '../src/server/stripe.js';
import { nextFreeAddress } from '../src/server/wireguard.js';
import { formatIPv4, parseIPv4 } from '../src/util/ip.js';

describe('verifyStripeSignature', () => {
  const secret = 'whsec_unit';
  const body = '{"id":"evt_1"}';
  const now = 1_800_000_000;
  const sig = (t: number, b = body, s = secret) => createHmac('sha256', s).update(`${t}.${b}`).digest('hex');
  const cases: [string, string | undefined, boolean, RegExp?][] = [
    ['valid', `t=${now},v1=${sig(now)}`, true],
    ['valid among several v1 and a v0', `t=${now},v0=abc,v1=${'f'.repeat(64)},v1=${sig(now)}`, true],
    ['299 s old', `t=${now - 299},v1=${sig(now - 299)}`, true],
    ['301 s old', `t=${now - 301},v1=${sig(now - 301)}`, false, /tolerance/],
    ['301 s in the future', `t=${now + 301},v1=${sig(now + 301)}`, false, /tolerance/],
    ['wrong secret', `t=${now},v1=${sig(now, body, 'whsec_other')}`, false, /no v1 signature matches/],
    ['signature of another body', `t=${now},v1=${sig(now, '{}')}`, false, /no v1/],
    ['timestamp changed after signing', `t=${now + 1},v1=${sig(now)}`, false, /no v1/],
    ['no timestamp', `v1=${sig(now)}`, false, /no timestamp/],
    ['no v1', `t=${now},v0=${sig(now)}`, false, /no v1 signature/],
    ['missing header', undefined, false, /missing/],
    ['garbage', 'garbage', false, /no timestamp/],
  ];
  for (const [name, header, ok, reason] of cases)
    it(name, () => {
      const r = verifyStripeSignature(header, body, secret, now, 300);
      assert.equal(r.ok, ok, JSON.stringify(r));
      if (!r.ok && reason) assert.match(r.reason, reason);
    });
});

describe('nextFreeAddress', () => {
  const tunnelOf = (cidr: string) => {
    const spec = [
      'version: 1',
      'networks:',
      '  lan0: { cidr: 198.51.100.0/24 }',
      'tunnels:',
      `  wg0: { server: s, listen: 51820, cidr: ${cidr}, endpoint: 198.51.100.1 }`,
      'hosts:',
      `  s: { kind: hypervisor, nics: { lan0: 198.51.100.1, wg0: ${cidr.replace(/\.\d+\/\d+$/, '.1')} } }`,
    ].join('\n');
    const r = loadModelFromText(`${spec}\n`);
    assert.ok(r.model, JSON.stringify(r.diagnostics));
    return r.model.tunnels.get('wg0')!;
  };
  const used = (...a: string[]) => new Set(a.map((x) => parseIPv4(x)!));
  it('skips the network address and taken ones, reuses gaps, and says when the subnet is full', () => {
    const t24 = tunnelOf('10.8.0.0/24');
    assert.equal(formatIPv4(nextFreeAddress(t24, used())!), '10.8.0.1');
    assert.equal(formatIPv4(nextFreeAddress(t24, used('10.8.0.1', '10.8.0.2', '10.8.0.4'))!), '10.8.0.3');
    const t30 = tunnelOf('10.9.0.0/30');
    assert.equal(formatIPv4(nextFreeAddress(t30, used('10.9.0.1'))!), '10.9.0.2');
    assert.equal(nextFreeAddress(t30, used('10.9.0.1', '10.9.0.2')), undefined, 'never the broadcast address');
  });
});

describe('RateLimiter', () => {
  it('allows max per window per key, then says how long to wait; a new window starts afresh', () => {
    let now = 0;
    const l = new RateLimiter(2, 60_000, () => now);
    assert.deepEqual([l.hit('a').ok, l.hit('a').ok, l.hit('b').ok], [true, true, true]);
    now = 15_000;
    assert.deepEqual(l.hit('a'), { ok: false, retryAfterS: 45 });
    now = 60_000;
    assert.equal(l.hit('a').ok, true);
  });
});

describe('Store migrations', () => {
  it('brings a database written by an older server up to date and keeps its rows; refuses a newer one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-store-'));
    try {
      const file = join(dir, 'cordon.db');
      const s = new Store(file);
      const latest = s.schemaVersion();
      s.createUser('test', 'u', 'hash', 'free');
      s.close();
      // Make it look like a version-1 database: drop what later migrations made.
      const db = new Database(file);
      db.exec('DROP TABLE events; DROP TABLE wg_peers;');
      db.pragma('user_version = 1');
      db.close();
      const again = new Store(file);
      assert.equal(again.schemaVersion(), latest);
      assert.equal(again.userByName('u')!.tier, 'free');
      assert.deepEqual(again.events({ limit: 1 }), []);
      again.close();
      const newer = new Database(file);
      newer.pragma(`user_version = ${latest + 1}`);
      newer.close();
      assert.throws(() => new Store(file), /newer than this cordon knows/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
