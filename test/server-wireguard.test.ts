/**
 * Live: a peer created through the API completes a WireGuard handshake. The hub runs wireguard-go
 * in one throw-away namespace, the client in another, joined by a veth pair; the server applies
 * each peer change with `wg syncconf` in the hub's namespace, and a second peer does not drop the
 * first one's session. Needs root, ip, wg and wireguard-go; everything carries a run-unique name
 * and is removed afterwards, also on failure. No traffic leaves the two namespaces.
 */
import { strict as assert } from 'node:assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NetnsPool, netnsSkipReason } from './support/netns-fixture.js';
import { requireOrSkip } from './support/require-env.js';
import { ErrorSchema, PeerCreated, PeerListed, SpecUploaded } from '../src/server/schemas.js';
import { testServer, type Client, type TestServer } from './support/server.js';
import { startWireguardGo } from './support/wireguard-go.js';

function wgSkip(): string | undefined {
  const ns = netnsSkipReason('server WireGuard handshake');
  if (ns) return ns;
  for (const b of ['wg', 'wireguard-go', 'ping'])
    if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return requireOrSkip('server WireGuard handshake', `needs ${b}`);
  return undefined;
}

const tag = randomBytes(3).toString('hex');
const TUNNEL = `wgs${tag}`;
const CLIENT_IF = `wgc${tag}`;
const SPEC = `version: 1
networks:
  lan0: { cidr: 198.51.100.0/24 }
tunnels:
  ${TUNNEL}: { server: hub, listen: 51820, cidr: 10.99.0.0/24, endpoint: 198.51.100.1 }
hosts:
  hub:
    kind: hypervisor
    nics: { lan0: 198.51.100.1, ${TUNNEL}: 10.99.0.1 }
`;

describe('server: WireGuard peers on a live interface', { skip: wgSkip() }, () => {
  const pool = new NetnsPool();
  const tmp = mkdtempSync(join(tmpdir(), 'cordon-server-wg-'));
  const daemons: ChildProcess[] = [];
  let hub = '';
  let cli = '';
  let t: TestServer;
  let admin: Client;
  let specId = 0;

  const must = (ns: string, argv: string[]) => {
    const r = pool.exec(ns, argv);
    assert.equal(r.status, 0, `${argv.join(' ')} in ${ns}: ${r.stderr}`);
    return r.stdout;
  };

  const wireguardGo = async (ns: string, ifname: string): Promise<void> => {
    daemons.push(await startWireguardGo(ns, ifname));
  };

  before(async () => {
    hub = pool.create('hub');
    cli = pool.create('cli');
    const r = spawnSync('ip', ['link', 'add', `vs${tag}a`, 'netns', hub, 'type', 'veth', 'peer', 'name', `vs${tag}b`, 'netns', cli], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const [ns, dev, addr] of [
      [hub, `vs${tag}a`, '198.51.100.1/24'],
      [cli, `vs${tag}b`, '198.51.100.2/24'],
    ] as const) {
      must(ns, ['ip', 'link', 'set', 'lo', 'up']);
      must(ns, ['ip', 'addr', 'add', addr, 'dev', dev]);
      must(ns, ['ip', 'link', 'set', dev, 'up']);
    }
    await wireguardGo(hub, TUNNEL);
    must(hub, ['ip', 'addr', 'add', '10.99.0.1/24', 'dev', TUNNEL]);
    must(hub, ['ip', 'link', 'set', TUNNEL, 'up']);
    t = await testServer({ wireguardNetns: hub, sweepIntervalMs: 100 });
    admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    const up = await admin.req('POST', '/api/specs', { body: { name: 'wg-live', text: SPEC } });
    assert.equal(up.status, 201, up.text);
    specId = up.as(SpecUploaded).spec.id;
  });

  after(async () => {
    await t?.close();
    for (const d of daemons) if (d.exitCode === null) d.kill('SIGTERM');
    pool.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });

  const handshakes = (): Map<string, number> =>
    new Map(
      must(hub, ['wg', 'show', TUNNEL, 'latest-handshakes'])
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t') as [string, string])
        .map(([k, v]) => [k, Number(v)]),
    );

  it('a peer created through the API handshakes with the hub, and a second peer keeps the first one’s session', async () => {
    const r = await admin.req('POST', `/api/specs/${specId}/tunnels/${TUNNEL}/peers`, { body: { name: 'laptop' } });
    assert.equal(r.status, 201, r.text);
    const peer = r.as(PeerCreated);
    assert.equal(peer.address, '10.99.0.2');
    assert.ok(handshakes().has(peer.publicKey), 'wg syncconf put the peer on the running interface');

    const conf = peer.clientConfig;
    const field = (k: string) => new RegExp(`^${k} = (.+)$`, 'm').exec(conf)![1]!;
    const keyFile = join(tmp, 'client.key');
    writeFileSync(keyFile, `${field('PrivateKey')}\n`, { mode: 0o600 });
    await wireguardGo(cli, CLIENT_IF);
    must(cli, ['wg', 'set', CLIENT_IF, 'private-key', keyFile, 'peer', field('PublicKey'), 'endpoint', field('Endpoint'), 'allowed-ips', field('AllowedIPs')]);
    must(cli, ['ip', 'addr', 'add', field('Address'), 'dev', CLIENT_IF]);
    must(cli, ['ip', 'link', 'set', CLIENT_IF, 'up']);
    const ping = pool.exec(cli, ['ping', '-c', '3', '-W', '2', '10.99.0.1']);
    assert.equal(ping.status, 0, `ping over the tunnel: ${ping.stdout}${ping.stderr}`);
    const first = handshakes().get(peer.publicKey)!;
    assert.ok(first > 0, 'handshake recorded on the hub');

    const second = await admin.req('POST', `/api/specs/${specId}/tunnels/${TUNNEL}/peers`, { body: { name: 'phone' } });
    assert.equal(second.status, 201, second.text);
    const after = handshakes();
    assert.equal(after.size, 2);
    assert.equal(after.get(peer.publicKey), first, 'syncconf kept the first peer’s session');
    assert.equal(pool.exec(cli, ['ping', '-c', '1', '-W', '2', '10.99.0.1']).status, 0, 'and its traffic');
  });
  it('the list shows each peer’s handshake and transfer from the live interface; revoke and expiry take peers off it', async () => {
    const list = await admin.req('GET', `/api/specs/${specId}/tunnels/${TUNNEL}/peers`);
    assert.equal(list.headers.get('x-cordon-wireguard'), 'live');
    const byName = new Map(list.as(PeerListed.array()).map((p) => [p.name, p]));
    const laptop = byName.get('laptop')!;
    assert.ok(laptop.lastHandshake !== null && Math.abs(Date.parse(laptop.lastHandshake) - Date.now()) < 120_000, String(laptop.lastHandshake));
    assert.ok(laptop.rxBytes > 0 && laptop.txBytes > 0, `rx ${laptop.rxBytes} tx ${laptop.txBytes}`);
    assert.equal(laptop.endpoint, `198.51.100.2:${/:(\d+)$/.exec(laptop.endpoint ?? '')?.[1]}`);
    const phone = byName.get('phone')!;
    assert.deepEqual([phone.lastHandshake, phone.rxBytes, phone.txBytes], [null, 0, 0], 'a peer that never connected');

    const del = await admin.req('DELETE', `/api/specs/${specId}/tunnels/${TUNNEL}/peers/${phone.id}`);
    assert.equal(del.status, 200, del.text);
    assert.ok(!handshakes().has(phone.publicKey), 'revoke ran wg syncconf: the peer left the interface');
    assert.ok(handshakes().has(laptop.publicKey), 'and the other peer stayed');

    const brief = await admin.req('POST', `/api/specs/${specId}/tunnels/${TUNNEL}/peers`, {
      body: { name: 'brief', expires: new Date(Date.now() + 1000).toISOString() },
    });
    assert.equal(brief.status, 201, brief.text);
    const key = brief.as(PeerCreated).publicKey;
    assert.ok(handshakes().has(key));
    for (let i = 0; i < 300 && handshakes().has(key); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!handshakes().has(key), 'the expired peer left the running interface');
    assert.ok(handshakes().has(laptop.publicKey));
  });
  it('a peer the interface refuses (no such interface) → 502, and neither the database nor the config file keeps it', async () => {
    const other = `wgx${tag}`;
    const up = await admin.req('POST', '/api/specs', { body: { name: 'wg-missing', text: SPEC.replaceAll(TUNNEL, other) } });
    assert.equal(up.status, 201, up.text);
    const id = up.as(SpecUploaded).spec.id;
    const r = await admin.req('POST', `/api/specs/${id}/tunnels/${other}/peers`, { body: { name: 'laptop' } });
    assert.equal(r.status, 502, r.text);
    assert.match(r.as(ErrorSchema).error, new RegExp(`could not apply the peers to ${other}`));
    assert.deepEqual((await admin.req('GET', `/api/specs/${id}/tunnels/${other}/peers`)).json, []);
    assert.ok(!existsSync(join(t.dataDir, 'wireguard', `${id}-${other}.conf`)));
  });
});
