/**
 * The Peers view with a live WireGuard interface: a peer created in the browser, its client config
 * (read from the page, where it is shown once) brought up with wireguard-go in a second namespace,
 * and the view showing that client's handshake, transfer and endpoint without a reload — the same
 * values the API reads from `wg show dump`. The hub runs wireguard-go in a namespace the server
 * applies peer changes to (--wireguard-netns). Needs root, ip, wg, wireguard-go, ping and Chromium.
 * Every namespace, interface and socket carries this run's `d2-` prefix and is removed afterwards,
 * also on failure; no packet leaves the two namespaces.
 */
import { strict as assert } from 'node:assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PeerListed, SpecUploaded } from '../src/server/schemas.js';
import { browserMissing, buildDashboard, goToView, logIn, openBrowser, selectSpec, shot, until, type Browsing } from './support/dashboard.js';
import { probeNetns } from './support/netns-fixture.js';
import { requireOrSkip } from './support/require-env.js';
import { testServer, type Client, type TestServer } from './support/server.js';
import { startWireguardGo } from './support/wireguard-go.js';

const SUITE = 'dashboard: live WireGuard handshake in the Peers view';

function missing(): string | undefined {
  const b = browserMissing() ?? probeNetns();
  if (b) return b;
  for (const tool of ['wg', 'wireguard-go', 'ping'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} (make setup installs it)`;
  return undefined;
}

// wireguard-go's control sockets (/var/run/wireguard/NAME.sock) are machine-wide: names unique to this run.
const tag = randomBytes(3).toString('hex');
const PREFIX = `d2-${process.pid}-${tag}`;
const TUNNEL = `d2w${tag}`;
const CLIENT_IF = `d2c${tag}`;
const SPEC_NAME = 'd2-wg.yaml';
const SPEC = `version: 1
networks:
  lan0: { cidr: 198.51.100.0/24 }
tunnels:
  ${TUNNEL}: { server: hub, listen: 51820, cidr: 10.98.0.0/24, endpoint: 198.51.100.1 }
hosts:
  hub:
    kind: hypervisor
    nics: { lan0: 198.51.100.1, ${TUNNEL}: 10.98.0.1 }
`;

describe(SUITE, { skip: requireOrSkip(SUITE, missing()) }, () => {
  const made: string[] = [];
  const daemons: ChildProcess[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'cordon-d2-wg-'));
  const hub = `${PREFIX}-hub`;
  const cli = `${PREFIX}-cli`;
  let t: TestServer | undefined;
  let b: Browsing | undefined;
  let admin: Client;
  let specId = 0;

  const must = (ns: string, argv: string[]): string => {
    const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${argv.join(' ')} in ${ns}: ${r.stderr}`);
    return r.stdout;
  };
  const netns = (name: string) => {
    const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    made.push(name);
  };
  const wireguardGo = async (ns: string, ifname: string): Promise<void> => {
    daemons.push(await startWireguardGo(ns, ifname));
  };

  before(async () => {
    buildDashboard();
    netns(hub);
    netns(cli);
    const link = spawnSync('ip', ['link', 'add', `d2v${tag}a`, 'netns', hub, 'type', 'veth', 'peer', 'name', `d2v${tag}b`, 'netns', cli], { encoding: 'utf8' });
    assert.equal(link.status, 0, link.stderr);
    for (const [ns, dev, addr] of [
      [hub, `d2v${tag}a`, '198.51.100.1/24'],
      [cli, `d2v${tag}b`, '198.51.100.2/24'],
    ] as const) {
      must(ns, ['ip', 'link', 'set', 'lo', 'up']);
      must(ns, ['ip', 'addr', 'add', addr, 'dev', dev]);
      must(ns, ['ip', 'link', 'set', dev, 'up']);
    }
    await wireguardGo(hub, TUNNEL);
    must(hub, ['ip', 'addr', 'add', '10.98.0.1/24', 'dev', TUNNEL]);
    must(hub, ['ip', 'link', 'set', TUNNEL, 'up']);
    t = await testServer({ wireguardNetns: hub });
    admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    const up = await admin.req('POST', '/api/specs', { body: { name: SPEC_NAME, text: SPEC } });
    assert.equal(up.status, 201, up.text);
    specId = up.as(SpecUploaded).spec.id;
    b = await openBrowser();
    b.page.setDefaultTimeout(10_000);
  });

  after(async () => {
    await b?.close();
    await t?.close();
    for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGTERM');
    await Promise.all(daemons.map((d) => (d.exitCode === null && d.signalCode === null ? new Promise((r) => d.once('exit', r)) : Promise.resolve())));
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    for (const n of [TUNNEL, CLIENT_IF]) rmSync(`/var/run/wireguard/${n}.sock`, { force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a peer created in the browser handshakes from its own namespace, and the view shows it live', async () => {
    const page = b!.page;
    await logIn(page, t!.server.url, t!.adminPassword);
    await selectSpec(page, SPEC_NAME);
    await goToView(page, 'Peers');
    await page.locator('[data-wireguard="live"]').waitFor();
    await page.getByLabel('New peer name').fill('laptop');
    await page.getByRole('button', { name: 'Create peer' }).click();
    const conf = await page.getByLabel('Client config').innerText();
    const row = page.locator('tr[data-peer="laptop"]');
    await row.waitFor();
    assert.equal(await row.locator('.handshake').innerText(), 'never', 'no handshake before the client exists');
    await page.getByRole('button', { name: 'Done, hide it' }).click();

    // The client, exactly as the page handed it out: its private key goes to a 0600 file, never a log.
    const field = (k: string) => new RegExp(`^${k} = (.+)$`, 'm').exec(conf)?.[1] ?? assert.fail(`${k} in the client config`);
    const keyFile = join(tmp, 'client.key');
    writeFileSync(keyFile, `${field('PrivateKey')}\n`, { mode: 0o600 });
    await wireguardGo(cli, CLIENT_IF);
    must(cli, ['wg', 'set', CLIENT_IF, 'private-key', keyFile, 'peer', field('PublicKey'), 'endpoint', field('Endpoint'), 'allowed-ips', field('AllowedIPs')]);
    must(cli, ['ip', 'addr', 'add', field('Address'), 'dev', CLIENT_IF]);
    must(cli, ['ip', 'link', 'set', CLIENT_IF, 'up']);
    const ping = spawnSync('ip', ['netns', 'exec', cli, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '10.98.0.1'], { encoding: 'utf8' });
    assert.equal(ping.status, 0, `ping over the tunnel: ${ping.stdout}${ping.stderr}`);

    // No reload: the view re-reads the list by itself. Traffic has stopped, so the counts settle.
    const api = async () => {
      const r = await admin.req('GET', `/api/specs/${specId}/tunnels/${TUNNEL}/peers`);
      return r.as(PeerListed.array()).find((p) => p.name === 'laptop')!;
    };
    const want = await api();
    assert.ok(want.lastHandshake !== null && want.rxBytes > 0 && want.txBytes > 0, JSON.stringify(want));
    const transfer = row.locator('.transfer');
    await until(
      'the view to show the transfer the API reports',
      async () => (await transfer.getAttribute('data-rx')) === String(want.rxBytes) && (await transfer.getAttribute('data-tx')) === String(want.txBytes),
      20_000,
    );
    assert.equal(await row.locator('.handshake time').getAttribute('datetime'), want.lastHandshake);
    assert.match(await row.locator('.handshake').innerText(), /^\d+ s ago$/);
    assert.match(await row.locator('.transfer').innerText(), /^↓ \d+(\.\d)? (B|KiB) ↑ \d+(\.\d)? (B|KiB)$/);
    assert.ok((await row.innerText()).includes(want.endpoint!), `endpoint ${want.endpoint} shown`);
    assert.match(want.endpoint!, /^198\.51\.100\.2:\d+$/, 'the client spoke from its own namespace');
    await shot(page, 'peers-live');
    assert.deepEqual(b!.problems, []);
  });
});
