/** vpn-only sandboxes: reading wg-quick client configs (src/sandbox/wireguard.ts) and the plan built on them. Pure. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseWgQuick, redacted, wgSetconf, WgConfigError } from '../src/sandbox/wireguard.js';
import { pickSubnet, planSandbox, planToText, sandboxRuleset } from '../src/sandbox/plan.js';
import { resolveOptions } from '../src/sandbox/run.js';
import { formatCidr } from '../src/util/ip.js';

// Keys made with `wg genkey` / `wg pubkey` for these tests only.
const PRIV = 'eEE8s/969/tSEQdGF4W5TfMI5UR7IoLkRh94ripKmlc=';
const PUB = '+oYJGBTd6aDAUyYhPkGx3Gl2CffdPsWApA677zLEKCw=';

const GOOD = `# from the VPN provider
[Interface]
PrivateKey = ${PRIV}
Address = 10.77.0.2/24, fd00::2/64
DNS = 10.77.0.1, corp.example
MTU = 1380
PostUp = iptables -A …

[Peer]
PublicKey = ${PUB}
Endpoint = 203.0.113.5:51820
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 25
`;

function errorOf(text: string): string {
  try {
    parseWgQuick(text, 'wg0.conf');
  } catch (e) {
    assert.ok(e instanceof WgConfigError, String(e));
    return e.message;
  }
  assert.fail('expected an error');
}

describe('wg-quick client configs', () => {
  it('reads a provider config: IPv4 kept, IPv6 and host-only keys noted, DNS servers and MTU taken', () => {
    const c = parseWgQuick(GOOD, 'wg0.conf');
    assert.deepEqual(c.addressTexts, ['10.77.0.2/24']);
    assert.deepEqual(c.dns, ['10.77.0.1']);
    assert.equal(c.mtu, 1380);
    assert.equal(c.peers.length, 1);
    assert.equal(c.peers[0]!.endpoint.text, '203.0.113.5:51820');
    assert.deepEqual(c.peers[0]!.allowedIps.map(formatCidr), ['0.0.0.0/0']);
    assert.equal(c.peers[0]!.keepalive, 25);
    const notes = c.notes.join('\n');
    assert.match(notes, /wg0\.conf:4: IPv6 address fd00::2\/64 skipped/);
    assert.match(notes, /wg0\.conf:7: PostUp is for wg-quick on a host/);
    assert.match(notes, /wg0\.conf:12: IPv6 allowed IPs ::\/0 skipped/);
    assert.match(notes, /search domain 'corp\.example' ignored/);
  });

  it('names the file, the line and what was expected', () => {
    const table: [string, RegExp][] = [
      [GOOD.replace(PRIV, 'abc'), /wg0\.conf:3: PrivateKey: expected a WireGuard key/],
      [
        GOOD.replace('203.0.113.5:51820', 'vpn.example.com:51820'),
        /wg0\.conf:11: Endpoint: 'vpn\.example\.com:51820' is not IPv4:PORT \(names are not resolved/,
      ],
      [GOOD.replace('203.0.113.5:51820', '203.0.113.5:70000'), /wg0\.conf:11: Endpoint/],
      [GOOD.replace('MTU = 1380', 'Mtu = huge'), /wg0\.conf:6: MTU: 'huge' is not a number/],
      [
        GOOD.replace('PersistentKeepalive', 'Keepalive'),
        /wg0\.conf:13: unknown \[Peer\] key 'Keepalive': expected PublicKey, PresharedKey, Endpoint, AllowedIPs or PersistentKeepalive/,
      ],
      [GOOD.replace('[Peer]', '[Peers]'), /wg0\.conf:9: unknown section \[Peers\]/],
      [GOOD.replace(/\[Peer\][^]*$/, ''), /no \[Peer\] section/],
      [GOOD.replace('Address = 10.77.0.2/24, fd00::2/64', 'Address = fd00::2/64'), /has no IPv4 Address/],
      [GOOD.replace('AllowedIPs = 0.0.0.0/0, ::/0', 'AllowedIPs = ::/0'), /wg0\.conf:9: \[Peer\] has no IPv4 AllowedIPs/],
      ['PrivateKey = x\n', /wg0\.conf:1: 'PrivateKey' before any \[Interface\] or \[Peer\] section/],
      ['[Interface]\nthis is not a line\n', /wg0\.conf:2: cannot read 'this is not a line': expected Key = Value/],
    ];
    for (const [text, re] of table) assert.match(errorOf(text), re);
    // A key or endpoint that is there but wrong is reported once, not also as missing.
    assert.doesNotMatch(errorOf(GOOD.replace(PRIV, 'abc')), /has no PrivateKey/);
    assert.doesNotMatch(errorOf(GOOD.replace('203.0.113.5:51820', 'vpn.example.com:51820')), /has no Endpoint/);
  });

  it('keys go only to wg setconf; --dry-run and messages show them hidden', () => {
    const c = parseWgQuick(GOOD, 'wg0.conf');
    assert.match(wgSetconf(c), new RegExp(`PrivateKey = ${PRIV.replace(/[+/]/g, '\\$&')}`));
    assert.match(wgSetconf(c), /FwMark = 0xc0d0/);
    assert.doesNotMatch(redacted(c), new RegExp(PRIV.slice(0, 20).replace(/[+/]/g, '\\$&')));
    const opts = resolveOptions({ command: ['true'], mode: 'vpn-only', hostNetns: 'h', wireguard: c, hide: [] });
    const text = planToText(planSandbox(opts, 'abc123', pickSubnet([]), 'none', '/tmp/x/resolv.conf'));
    assert.doesNotMatch(text, new RegExp(PRIV.slice(0, 20).replace(/[+/]/g, '\\$&')));
    assert.match(text, /PrivateKey = \(hidden\)/);
  });

  it('plan: transport routes out of the veth, the allowed IPs into the tunnel, a recorded last resort, resolv.conf bound', () => {
    const c = parseWgQuick(GOOD.replace('0.0.0.0/0, ::/0', '10.77.0.0/24, 192.168.50.0/24'), 'wg0.conf');
    const opts = resolveOptions({ command: ['true'], mode: 'vpn-only', hostNetns: 'h', wireguard: c, hide: [] });
    const text = planToText(planSandbox(opts, 'abc123', pickSubnet([]), 'none', '/tmp/x/resolv.conf'));
    assert.match(text, /ip -n csabc123 route add 203\.0\.113\.5\/32 via 10\.213\.0\.1/);
    assert.match(text, /route add default via 10\.213\.0\.1 metric 1000/);
    assert.match(text, /route add 192\.168\.50\.0\/24 dev csabc123w/);
    assert.doesNotMatch(text, /route add 10\.77\.0\.0\/24/, 'the tunnel address already routes its own prefix');
    assert.match(text, /ip netns exec csabc123 wireguard-go -f csabc123w/);
    assert.match(text, /--ro-bind \/tmp\/x\/resolv\.conf \/etc\/resolv\.conf/);
    // The policy is loaded before the tunnel exists.
    assert.ok(text.indexOf('table inet cordon_sbx') < text.indexOf('wireguard-go'));
  });

  it('egress policy: the tunnel carries traffic, the veth only marked transport, replies accepted per interface', () => {
    const tunnel = { ifname: 'csabc123w', endpoints: [{ addr: 0xcb007105, port: 51820 }] };
    const all = sandboxRuleset({ mode: 'vpn-only', allow: [], deny: [] }, undefined, 'csabc123s', tunnel);
    assert.match(all, /oifname "csabc123s" meta mark 0xc0d0 ip daddr 203\.0\.113\.5 udp dport 51820 counter name tx accept/);
    assert.match(all, /oifname "csabc123w" ct state established,related counter name tx accept/);
    assert.match(all, /^ {4}oifname "csabc123w" counter name tx accept$/m);
    assert.doesNotMatch(all, /^ {4}ct state established,related counter name tx accept$/m, 'no reply accepted regardless of interface');
    assert.match(all, /ip daddr 169\.254\.0\.0\/16 add @denied/, 'metadata stays denied through the tunnel');
    const some = sandboxRuleset(
      { mode: 'vpn-only', allow: [{ cidr: { addr: 0x0a4d0001, len: 32 }, port: 11434, proto: 'tcp', text: 'x' }], deny: [] },
      undefined,
      'csabc123s',
      tunnel,
    );
    assert.match(some, /oifname "csabc123w" ip daddr 10\.77\.0\.1 tcp dport 11434 counter name tx accept/);
    assert.doesNotMatch(some, /^ {4}oifname "csabc123w" counter name tx accept$/m);
  });

  it('rootless plan: a private /run for wireguard-go, the tunnel inside the holder after pasta, routed by policy; no key in it', () => {
    const c = parseWgQuick(GOOD.replace('0.0.0.0/0, ::/0', '10.77.0.0/24, 192.168.50.0/24'), 'wg0.conf');
    // resolveOptions picks the rootless path from the uid; as root, the same options with rootless set.
    const opts = { ...resolveOptions({ command: ['true'], mode: 'vpn-only', hostNetns: 'h', wireguard: c, hide: [] }), hostNetns: undefined, rootless: true };
    const plan = planSandbox(opts, 'abc123', undefined, 'none', '/tmp/x/resolv.conf');
    const kinds = plan.steps.map((s) => s.kind);
    assert.deepEqual(kinds.slice(0, 3), ['holder', 'pasta', 'wireguard'], 'policy (in the holder) before pasta before the tunnel');
    const holder = plan.steps[0]!.kind === 'holder' ? plan.steps[0].argv : [];
    assert.ok(holder.includes('--mount'), 'a mount namespace of its own');
    const script = holder[holder.length - 2]!;
    assert.match(script, /^mount -t tmpfs .* \/run \|\| exit 125$/m);
    assert.match(script, /oifname "csabc123s" meta mark 0xc0d0 ip daddr 203\.0\.113\.5 udp dport 51820 counter name tx accept/);
    assert.match(script, /^\s+oifname "csabc123w" counter name tx accept$/m);
    assert.equal(plan.ns, undefined, 'no named namespace');
    const text = planToText(plan);
    assert.match(text, /nsenter --target=<holder-pid> --user --net --mount --preserve-credentials -- wireguard-go -f csabc123w &/);
    assert.match(text, /--mount --preserve-credentials -- wg setconf csabc123w \/dev\/stdin/);
    assert.match(text, /ip route add 192\.168\.50\.0\/24 dev csabc123w table 51820/);
    assert.match(text, /ip rule add not fwmark 0xc0d0 table 51820 priority 100/);
    assert.doesNotMatch(text, /route add default/, "pasta's default route stays; nothing routed around the tunnel");
    assert.doesNotMatch(text, new RegExp(PRIV.slice(0, 20).replace(/[+/]/g, '\\$&')));
    // The command enters the user and network namespaces only: it never sees wireguard-go's /run.
    assert.ok(!plan.argv.includes('--mount'));
    assert.ok(plan.argv.includes('--ro-bind') && plan.argv.includes('/tmp/x/resolv.conf'));
  });

  it('refuses what cannot work, with the reason', () => {
    const c = parseWgQuick(GOOD, 'wg0.conf');
    assert.throws(() => resolveOptions({ command: ['true'], mode: 'vpn-only', hostNetns: 'h' }), /--wireguard FILE/);
    assert.throws(() => resolveOptions({ command: ['true'], mode: 'filtered', hostNetns: 'h', wireguard: c }), /--wireguard is for --mode vpn-only/);
    assert.throws(() => resolveOptions({ command: ['true'], mode: 'vpn-only', wireguard: c }), /--host-netns/);
    assert.throws(
      () =>
        resolveOptions({
          command: ['true'],
          mode: 'vpn-only',
          hostNetns: 'h',
          wireguard: c,
          allowDomains: [{ domain: 'x.example', port: undefined, text: 'x.example' }],
        }),
      /not names/,
    );
  });
});
