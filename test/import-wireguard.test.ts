/**
 * The WireGuard importer (wg-quick configs → tunnels, members, addresses, routes), from wg-quick(8)
 * and wg(8): the file name is the interface, ListenPort makes the server, a peer's AllowedIPs are
 * the addresses it may send from (on a client: what goes through the tunnel), Endpoint is where
 * a client sends to. Keys are secrets: never in the spec nor in a diagnostic.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ImportResult } from '../src/import/common/contract.js';
import { wireguardImporter } from '../src/import/wireguard/index.js';
import { loadModelFromText } from '../src/model/load.js';
import { parseIPv4 } from '../src/util/ip.js';

const PRIV = 'aGVsbG8gdGhpcyBpcyBub3QgYSByZWFsIGtleSAxMjM0NTY=';
const PSK = 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=';
const SERVER = `[Interface]
Address = 10.8.0.1/24
ListenPort = 51820
PrivateKey = ${PRIV}
PostUp = iptables -A FORWARD -i wg0 -j ACCEPT

# alice
[Peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
AllowedIPs = 10.8.0.2/32

[Peer]
PublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=
PresharedKey = ${PSK}
AllowedIPs = 10.8.0.3/32, 192.168.50.0/24
`;
const CLIENT = `[Interface]
Address = 10.8.0.3/24
PrivateKey = Y2xpZW50IGtleSBub3QgcmVhbCBub3QgcmVhbCAxMjM0NTY=

[Peer]
PublicKey = HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=
Endpoint = 203.0.113.1:51820
AllowedIPs = 0.0.0.0/0
`;

function run(files: Record<string, string>, paths: string[]): ImportResult {
  return wireguardImporter.import({ paths, tree: { read: (p) => files[p], list: () => undefined }, topology: undefined, host: undefined });
}

describe('wireguard import', () => {
  const r = run({ 'srv/wg0.conf': SERVER, 'laptop/wg0.conf': CLIENT }, ['srv=srv/wg0.conf', 'laptop=laptop/wg0.conf']);

  it('the tunnel, its server at the clients’ endpoint, members named by comment, by client config or by number', () => {
    assert.ok(!r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(r.diagnostics));
    const m = loadModelFromText(r.text, 'imported.yaml');
    assert.ok(m.model, m.diagnostics.map((d) => d.message).join('\n') + r.text);
    const t = m.model.tunnels.get('wg0');
    assert.equal(t?.server, 'srv');
    assert.equal(t?.listen, 51820);
    assert.equal(m.model.hosts.get('alice')?.nics[0]?.address, parseIPv4('10.8.0.2'));
    assert.equal(m.model.hosts.get('laptop')?.nics[0]?.address, parseIPv4('10.8.0.3'), 'the client config is the peer at its address');
    assert.ok(!m.model.hosts.has('wg0-peer2'));
    assert.match(r.text, /to: 0\.0\.0\.0\/0\n\s+via: wg0/, "the client's AllowedIPs 0.0.0.0/0 is a route through the tunnel");
  });

  it('keys never leave the configs: not in the spec, not in a diagnostic', () => {
    const all = r.text + JSON.stringify(r.diagnostics);
    for (const secret of [PRIV, PSK, 'Y2xpZW50IGtleSBub3QgcmVhbCBub3QgcmVhbCAxMjM0NTY=']) assert.ok(!all.includes(secret), 'a secret leaked');
  });

  it('what is not modelled is a warning at its line: PostUp commands, a network behind a peer', () => {
    const at = r.diagnostics.filter((d) => d.code === 'CORDON044').map((d) => `${d.file}:${d.line}`);
    assert.deepEqual(at.sort(), ['srv/wg0.conf:15', 'srv/wg0.conf:5']);
  });

  it('a malformed line is an error at its line that does not echo the line (it may hold a key)', () => {
    const bad = run({ 'srv/wg0.conf': SERVER.replace('ListenPort = 51820', `ListenPort 51820 ${PRIV}`) }, ['srv=srv/wg0.conf']);
    const e = bad.diagnostics.find((d) => d.severity === 'error');
    assert.ok(e && e.line === 3, JSON.stringify(bad.diagnostics));
    assert.ok(!JSON.stringify(bad.diagnostics).includes(PRIV));
    assert.equal(bad.text, '');
    const who = run({ 'wg0.conf': SERVER, 'b/wg0.conf': CLIENT }, ['wg0.conf', 'b/wg0.conf']);
    assert.ok(
      who.diagnostics.some((d) => d.severity === 'error' && /HOST=wg0\.conf/.test(d.hint ?? '')),
      JSON.stringify(who.diagnostics),
    );
  });
});
