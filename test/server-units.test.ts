/** The server's pure parts, table-driven: query name resolution (shared with the CLI), Stripe signature checks, next free tunnel address, rate limiting, and schema migrations of an older database. */
import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadModelFromText } from '../src/model/load.js';
import { RateLimiter } from '../src/server/ratelimit.js';
import { compileText, queryJson } from '../src/server/analysis.js';
import { resolveSettings } from '../src/server/config.js';
import { QueryThread } from '../src/server/query-thread.js';
import { Store } from '../src/server/store.js';
import { verifyStripeSignature } from '../src/server/stripe.js';
import { nextFreeAddress } from '../src/server/wireguard.js';
import { formatIPv4, parseIPv4 } from '../src/util/ip.js';
import { compile } from '../src/ir/compile.js';
import { CLI_QUERY_NAMES, JSON_QUERY_NAMES, QueryArgError, resolveQuery, type QueryInput } from '../src/verify/query-args.js';
import { readFileSync } from 'node:fs';

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

describe('resolveSettings', () => {
  it("runs the sandbox with seed 002's SandboxConfig unless told otherwise: 512 MiB, half a CPU, 30 s", () => {
    assert.deepEqual(resolveSettings({ dataDir: '/nonexistent' }, {}).sandboxLimits, { memoryBytes: 512 * 1024 * 1024, cpus: 0.5, timeoutMs: 30_000 });
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
      db.exec(`DROP TABLE events; DROP TABLE wg_peers; DROP TABLE vault_sessions; DROP TABLE sandbox_runs; DROP TABLE jobs;
        ALTER TABLE users DROP COLUMN disabled; ALTER TABLE audit DROP COLUMN device; ALTER TABLE spec_versions DROP COLUMN hosts;`);
      db.pragma('user_version = 1');
      db.close();
      const again = new Store(file);
      assert.equal(again.schemaVersion(), latest);
      assert.equal(again.userByName('u')!.tier, 'free');
      assert.equal(again.userByName('u')!.disabled, false, 'an older account is enabled');
      assert.deepEqual(again.events({ limit: 1 }), []);
      assert.deepEqual(again.liveJobs('1970-01-01T00:00:00.000Z'), [], 'the jobs table is made by the upgrade');
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

describe('resolveQuery (one resolver for the CLI and the server)', () => {
  const text = readFileSync(new URL('../examples/proxmox-dual-bridge.yaml', import.meta.url), 'utf8');
  const ir = compile(loadModelFromText(text, 'x.yaml').model!);
  const ok: [string, QueryInput, string][] = [
    ['host names', { from: 'agentfarm', to: 'ollama', proto: 'tcp', port: 11434 }, 'host:agentfarm host:ollama tcp/11434'],
    ['an address is its host', { from: '192.168.100.10', to: 'ollama', proto: 'udp', port: '53' }, 'host:agentfarm host:ollama udp/53'],
    ['host.service gives the flow', { from: 'agentfarm', to: 'ollama.api' }, 'host:agentfarm host:ollama tcp/11434'],
    ['host.service with its own proto', { from: 'agentfarm', to: 'ollama.api', proto: 'tcp' }, 'host:agentfarm host:ollama tcp/11434'],
    ['zones', { from: 'internet', to: 'lan', proto: 'icmp' }, 'zone:internet zone:lan icmp/'],
    ['any destination address', { from: 'ollama', to: '8.8.8.8', proto: 'other' }, 'host:ollama addr:134744072 other/'],
  ];
  for (const [name, q, want] of ok)
    it(name, () => {
      const r = resolveQuery(ir, q, JSON_QUERY_NAMES);
      const end = (e: { kind: string; host?: string; zone?: string; addr?: number }) => `${e.kind}:${e.host ?? e.zone ?? e.addr}`;
      assert.equal(`${end(r.from)} ${end(r.dest)} ${r.flow.proto}/${r.flow.port ?? ''}`, want);
    });
  const bad: [string, QueryInput, string, RegExp, RegExp][] = [
    ['unknown source', { from: 'agentfrm', to: 'ollama', proto: 'icmp' }, 'from', /^from: unknown host 'agentfrm'.*agentfarm/, /^--from: unknown host/],
    ['address of no host', { from: '10.9.9.9', to: 'ollama', proto: 'icmp' }, 'from', /^from 10\.9\.9\.9: no declared host/, /^--from 10\.9\.9\.9/],
    ['unknown destination', { from: 'ollama', to: 'nope', proto: 'icmp' }, 'to', /^to: unknown destination 'nope'/, /^--to: unknown/],
    ['unknown service', { from: 'ollama', to: 'ollama.apl' }, 'to', /host 'ollama' has no service 'apl'.*'api'/, /^--to: host 'ollama'/],
    ['no proto, no service', { from: 'ollama', to: 'agentfarm' }, 'proto', /^proto is required .* unless to names a service/, /^--proto is required/],
    [
      'unknown proto',
      { from: 'ollama', to: 'agentfarm', proto: 'sctp', port: 1 },
      'proto',
      /^proto must be tcp, udp, icmp or other, got 'sctp'/,
      /^--proto must/,
    ],
    [
      'port with icmp',
      { from: 'ollama', to: 'agentfarm', proto: 'icmp', port: 1 },
      'port',
      /^port makes no sense with proto icmp/,
      /^--port makes no sense with --proto icmp/,
    ],
    ['no port with tcp', { from: 'ollama', to: 'agentfarm', proto: 'tcp' }, 'port', /^port is required with proto tcp/, /^--port is required with --proto tcp/],
    ['port 0', { from: 'ollama', to: 'agentfarm', proto: 'tcp', port: 0 }, 'port', /^port must be 1–65535, got '0'/, /^--port must be 1–65535/],
    ['port text', { from: 'ollama', to: 'agentfarm', proto: 'tcp', port: '1e3' }, 'port', /^port must be 1–65535, got '1e3'/, /^--port must/],
  ];
  for (const [name, q, field, jsonMsg, cliMsg] of bad)
    it(`refuses: ${name}, naming the field as each shell calls it`, () => {
      for (const [names, msg] of [
        [JSON_QUERY_NAMES, jsonMsg],
        [CLI_QUERY_NAMES, cliMsg],
      ] as const)
        assert.throws(
          () => resolveQuery(ir, q, names),
          (e: unknown) => e instanceof QueryArgError && e.field === field && msg.test(e.message),
        );
    });
});

describe('QueryThread', () => {
  it('sends a version’s text once; a version the worker has let go is sent again when it says so', async () => {
    const text = readFileSync(new URL('../examples/proxmox-dual-bridge.yaml', import.meta.url), 'utf8');
    const args = { from: 'agentfarm', to: 'ollama.api', assume: 'configured' as const };
    const expected = JSON.stringify(queryJson(compileText(text, 'example'), args));
    const q = new QueryThread();
    const reads = new Map<string, number>();
    const ask = (key: string) =>
      q.ask(
        key,
        'example',
        () => {
          reads.set(key, (reads.get(key) ?? 0) + 1);
          return text;
        },
        args,
      );
    try {
      for (const k of ['v1', 'v1', 'v2', 'v3', 'v4', 'v5', 'v5']) assert.equal(await ask(k), expected, k);
      assert.deepEqual([reads.get('v1'), reads.get('v5')], [1, 1], 'asked twice, read once');
      // The worker keeps four versions: v1 went when v5 came; asking for it again reads its text again.
      assert.equal(await ask('v1'), expected);
      assert.equal(reads.get('v1'), 2);
      await assert.rejects(
        ask('v5').then(() => q.ask('v5', 'example', () => text, { ...args, from: 'nosuch' })),
        /nosuch/,
      );
    } finally {
      await q.close();
    }
  });
});
