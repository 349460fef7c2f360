/**
 * wireguard target: goldens for every example (with TEST-ONLY keys), byte-identical re-renders,
 * the real tools on what it writes (`wg-quick strip`, `wg pubkey`, `nft`, `iptables-restore`,
 * `ip6tables-restore` inside `unshare -rn`), the kill switch sending the tunnel's own transport
 * where seed 004's rules drop it, the key store, and secrets never reaching the terminal.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openKeyStore } from '../src/cli/keystore.js';
import { wireguardRenderer } from '../src/render/wireguard/index.js';
import { mapKeySource } from '../src/render/wireguard/keys.js';
import { generateWgKeyPair, isWgKey, publicKeyOf } from '../src/util/wgkey.js';
import type { RenderResult } from '../src/render/types.js';
import { writeRendered } from '../src/render/write.js';
import { checkGolden, exampleFiles, exampleName, findProgram, irOfFile, irOfText, ROOT, run } from './support/golden.js';
import { testKeyPair, testKeySource } from './support/wg-test-keys.js';
import { skipOrFail } from './support/require-env.js';

const tmp = mkdtempSync(join(tmpdir(), 'cordon-wg-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const withTestKeys = wireguardRenderer.withKeys(testKeySource());

function renderWg(ir: ReturnType<typeof irOfText>, params: Record<string, string> = {}, host?: string): RenderResult {
  return withTestKeys.render(ir, { host, params: new Map(Object.entries(params)) });
}

function fileOf(r: RenderResult, path: string): string {
  const f = r.files.find((x) => x.path === path);
  assert.ok(f, `no ${path} among ${r.files.map((x) => x.path).join(', ')}`);
  return f.content;
}

/** `unshare -rn` works here (user namespaces allowed) and the tool exists. */
function canUnshare(tool: string): boolean {
  if (!findProgram('unshare') || !findProgram(tool)) return false;
  const r = spawnSync('unshare', ['-rn', 'true']);
  return r.status === 0;
}

function wgPubkey(privateKey: string): string | undefined {
  const wg = findProgram('wg');
  if (!wg) return undefined;
  const r = run(wg, ['pubkey'], { input: `${privateKey}\n` });
  assert.equal(r?.code, 0, r?.out);
  return r.out.trim();
}

/** Writes the files of one render to a fresh directory, as `cordon render --out` does. */
function writeOut(name: string, r: RenderResult): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  writeRendered(dir, r.files);
  return dir;
}

/** Every PrivateKey in the configs matches the PublicKey the other side of the tunnel lists. */
function checkKeysPair(r: RenderResult): void {
  const pubs = new Set(r.files.flatMap((f) => [...f.content.matchAll(/^PublicKey = (\S+)$/gm)].map((m) => m[1]!)));
  for (const f of r.files) {
    const m = /^PrivateKey = (\S+)$/m.exec(f.content);
    if (!m) continue;
    const pub = wgPubkey(m[1]!) ?? publicKeyOf(m[1]!);
    assert.ok(pubs.has(pub), `${f.path}: its public key appears in no other config`);
  }
}

function validateConfs(dir: string, r: RenderResult, t: { skip: (m: string) => void }): void {
  const wgQuick = findProgram('wg-quick');
  if (!wgQuick) return skipOrFail(t, 'wg-quick not installed (make setup installs wireguard-tools)');
  for (const f of r.files.filter((x) => x.path.endsWith('.conf'))) {
    const res: { code: number; out: string } = run(wgQuick, ['strip', join(dir, f.path)])!;
    assert.equal(res.code, 0, `wg-quick strip ${f.path}: ${res.out}`);
    assert.match(res.out, /^\[Interface\]$/m);
    assert.doesNotMatch(res.out, /^(Address|PreUp|PostUp|PreDown|PostDown) =/m, 'strip removes the wg-quick-only keys');
  }
}

function validateKillswitch(dir: string, host: string, t: { skip: (m: string) => void }): void {
  if (!canUnshare('nft') || !findProgram('iptables-restore')) return skipOrFail(t, 'unshare -rn, nft or iptables-restore not available');
  const base = join(dir, 'wireguard', host);
  const nft = spawnSync('unshare', ['-rn', 'nft', '-c', '-f', join(base, 'killswitch.nft')], { encoding: 'utf8' });
  assert.equal(nft.status, 0, `nft -c: ${nft.stderr}`);
  const v4 = spawnSync('unshare', ['-rn', 'iptables-restore', '--test', join(base, 'killswitch.rules.v4')], { encoding: 'utf8' });
  assert.equal(v4.status, 0, `iptables-restore --test: ${v4.stderr}`);
  const v6 = spawnSync('unshare', ['-rn', 'ip6tables-restore', '--test', join(base, 'killswitch.rules.v6')], { encoding: 'utf8' });
  assert.equal(v6.status, 0, `ip6tables-restore --test: ${v6.stderr}`);
}

describe('wireguard target: examples', () => {
  for (const file of exampleFiles()) {
    const name = exampleName(file);
    it(`${name}: matches the golden files and renders identically twice`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const a = renderWg(ir);
      const b = renderWg(irOfFile(file)!);
      assert.deepEqual(a, b);
      assert.deepEqual(
        a.diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      for (const f of a.files) assert.equal(f.secret, /^PrivateKey = /m.test(f.content), `${f.path}: secret exactly when it holds a private key`);
      checkGolden(name, 'wireguard', a);
    });
    it(`${name}: wg-quick strip, wg pubkey, nft -c and iptables-restore --test accept the output`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const r = renderWg(ir);
      if (r.files.length === 0) return t.skip('no tunnel and no vpn-only host');
      const dir = writeOut(`ex-${name}`, r);
      for (const f of r.files) assert.equal(statSync(join(dir, f.path)).mode & 0o777, f.secret ? 0o600 : 0o644, f.path);
      checkKeysPair(r);
      validateConfs(dir, r, t);
      for (const h of new Set(r.files.filter((f) => f.path.endsWith('/killswitch.nft')).map((f) => f.path.split('/')[1]!))) validateKillswitch(dir, h, t);
    });
  }
});

const VPN_ONLY = `version: 1
networks:
  vz-nat: { cidr: 192.168.64.0/24, gateway: 192.168.64.1, egress: nat, bridge: bridge100 }
tunnels:
  wg0: { server: vpn, listen: 51820, cidr: 10.99.0.0/24 }
hosts:
  mac: { kind: hypervisor, nics: { vz-nat: 192.168.64.1 } }
  vm: { kind: vm, egress: vpn-only, nics: { vz-nat: 192.168.64.2, wg0: 10.99.0.2 } }
  vpn: { kind: server, forward: true, nics: { internet: 203.0.113.1, wg0: 10.99.0.1 } }
  data: { kind: peer, via: wg0, address: 10.99.0.5, services: { http: tcp/80 } }
policy:
  - allow: { from: vm, to: internet, ports: [tcp/443, udp/53] }
  - allow: { from: vm, to: data.http }
`;

/**
 * Sends one UDP datagram per target from a namespace shaped like the seed 004 VM (eth0 on the NAT
 * network with a default route, wg0 on the tunnel) after loading `rules`; a dropped datagram
 * fails with EPERM at sendto. Returns "sent" / "blocked" per target.
 */
function probe(loader: string, rules: string, targets: readonly string[]): Map<string, string> | undefined {
  const script = `set -e
ip link set lo up
ip link add eth0 type veth peer name eth0p; ip link set eth0p up
ip addr add 192.168.64.2/24 dev eth0; ip link set eth0 up
ip route add default via 192.168.64.1 dev eth0
ip link add wg0 type veth peer name wg0p; ip link set wg0p up
ip addr add 10.99.0.2/24 dev wg0; ip link set wg0 up
${loader} ${JSON.stringify(rules)}
for t in ${targets.join(' ')}; do
  if bash -c "echo x > /dev/udp/\${t%:*}/\${t#*:}" 2>/dev/null; then echo "$t sent"; else echo "$t blocked"; fi
done`;
  const r = spawnSync('unshare', ['-rn', 'bash', '-c', script], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return new Map(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
}

describe('wireguard target: the vpn-only kill switch (seed 004)', () => {
  const ir = irOfText(VPN_ONLY, 'vpn-only.yaml');
  const r = renderWg(ir);

  it("lets the tunnel's own UDP transport out, in every form", () => {
    assert.match(fileOf(r, 'wireguard/vm/killswitch.nft'), /^\t\tip daddr 203\.0\.113\.1 udp dport 51820 counter accept$/m);
    assert.match(fileOf(r, 'wireguard/vm/killswitch.nft'), /^\t\toifname "wg0" counter accept$/m);
    assert.match(fileOf(r, 'wireguard/vm/killswitch.rules.v4'), /^-A OUTPUT -d 203\.0\.113\.1\/32 -p udp -m udp --dport 51820 .*-j ACCEPT$/m);
    assert.match(fileOf(r, 'wireguard/vm/killswitch.rules.v4'), /^:OUTPUT DROP \[0:0\]$/m);
    assert.match(fileOf(r, 'wireguard/vm/killswitch.rules.v6'), /^:OUTPUT DROP \[0:0\]$/m);
    assert.doesNotMatch(fileOf(r, 'wireguard/vm/killswitch.rules.v6'), /^-A .*203\.0\.113\.1/m, 'IPv4 rules stay out of the v6 file');
  });

  it('the vm routes everything into the tunnel, keeps alive behind NAT, reloads the kill switch before up and never removes it', () => {
    const conf = fileOf(r, 'wireguard/vm/wg0.conf');
    assert.match(conf, /^AllowedIPs = 0\.0\.0\.0\/0$/m);
    assert.match(conf, /^Endpoint = 203\.0\.113\.1:51820$/m);
    assert.match(conf, /^PersistentKeepalive = 25$/m);
    assert.match(conf, /^PreUp = nft -f \/etc\/cordon\/killswitch\.nft$/m);
    assert.doesNotMatch(conf, /^(PostDown|PreDown) =/m);
    assert.match(
      fileOf(renderWg(ir, { killswitch: 'iptables', 'killswitch-dir': '/opt/ks/' }), 'wireguard/vm/wg0.conf'),
      /^PreUp = iptables-restore \/opt\/ks\/killswitch\.rules\.v4 && ip6tables-restore \/opt\/ks\/killswitch\.rules\.v6$/m,
    );
    assert.doesNotMatch(fileOf(renderWg(ir, { killswitch: 'none' }), 'wireguard/vm/wg0.conf'), /^PreUp/m);
    assert.ok(renderWg(ir, { killswitch: 'pf' }).diagnostics.some((d) => d.severity === 'error' && /killswitch=pf/.test(d.message)));
  });

  it('the server lists each member with its /32, vpn-only or not; a roaming peer keeps alive, its AllowedIPs is the tunnel', () => {
    const server = fileOf(r, 'wireguard/vpn/wg0.conf');
    assert.match(server, /^ListenPort = 51820$/m);
    assert.match(server, /^Address = 10\.99\.0\.1\/24$/m);
    assert.deepEqual(server.match(/^AllowedIPs = .*$/gm), ['AllowedIPs = 10.99.0.5/32', 'AllowedIPs = 10.99.0.2/32']);
    assert.match(server, new RegExp(`^PublicKey = ${testKeyPair('vm').publicKey.replace(/[+/]/g, '\\$&')}$`, 'm'));
    const data = fileOf(r, 'wireguard/data/wg0.conf');
    assert.match(data, /^AllowedIPs = 10\.99\.0\.0\/24$/m);
    assert.match(data, /^PersistentKeepalive = 25$/m);
  });

  it('inside a namespace shaped like the VM: the transport is sent, the rest blocked; seed 004 as written blocks the transport too', (t) => {
    if (!canUnshare('nft') || !findProgram('iptables-restore')) return skipOrFail(t, 'unshare -rn, nft or iptables-restore not available');
    const dir = writeOut('probe', r);
    const targets = ['203.0.113.1:51820', '203.0.113.1:53', '8.8.8.8:53', '192.168.64.1:22', '10.99.0.5:80'];
    const want = new Map([
      ['203.0.113.1:51820', 'sent'],
      ['203.0.113.1:53', 'blocked'],
      ['8.8.8.8:53', 'blocked'],
      ['192.168.64.1:22', 'blocked'],
      ['10.99.0.5:80', 'sent'],
    ]);
    const nft = probe('nft -f', join(dir, 'wireguard/vm/killswitch.nft'), targets);
    if (!nft) return skipOrFail(t, 'cannot build the probe namespace (veth in a user namespace)');
    assert.deepEqual(nft, want);
    assert.deepEqual(probe('iptables-restore', join(dir, 'wireguard/vm/killswitch.rules.v4'), targets), want);
    // NetworkIsolation.swift:199-213: OUTPUT DROP, accept -o lo and -o wg0, nothing for the transport.
    const seed = join(tmp, 'seed-004.rules');
    writeFileSync(
      seed,
      '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT DROP [0:0]\n-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -o wg0 -j ACCEPT\nCOMMIT\n',
    );
    assert.equal(probe('iptables-restore', seed, targets)?.get('203.0.113.1:51820'), 'blocked', "seed 004's kill switch drops the tunnel's own transport");
  });
});

describe("wireguard target: seed 004's kill switch as written", () => {
  it('renders it faithfully and says twice why the tunnel can never come up (CORDON036)', (t) => {
    const file = join(ROOT, 'examples', 'mistakes', 'vpn-only-killswitch-as-written.yaml');
    const ir = irOfFile(file);
    if (!ir) return t.skip('examples/mistakes/vpn-only-killswitch-as-written.yaml not present');
    const r = renderWg(ir);
    const found = r.diagnostics.filter((d) => d.code === 'CORDON036').map((d) => d.message);
    assert.equal(found.length, 2, found.join('\n'));
    assert.match(found[0]!, /drops its tunnel's own transport \(udp to 203\.0\.113\.1:51820 out of eth0\)/);
    assert.match(found[1]!, /drops the replies of its tunnel's transport/);
    assert.doesNotMatch(fileOf(r, 'wireguard/workload-vm/killswitch.nft'), /udp dport 51820/);
    const fixed = exampleFiles().find((f) => exampleName(f) === 'vpn-only-vm');
    if (fixed)
      assert.deepEqual(
        renderWg(irOfFile(fixed)!).diagnostics.filter((d) => d.code === 'CORDON036'),
        [],
      );
  });
});

describe('wireguard target: keys', () => {
  const ir = irOfText(VPN_ONLY, 'vpn-only.yaml');

  it('needs a pair for every tunnel host and says which one is missing, never what a key is', () => {
    assert.deepEqual(wireguardRenderer.keyNames(ir, { host: undefined, params: new Map() }), ['data', 'vm', 'vpn']);
    const r = wireguardRenderer.render(ir, { host: undefined, params: new Map() });
    assert.deepEqual(
      r.diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => d.message)
        .sort(),
      ["wireguard: no key pair for 'data'", "wireguard: no key pair for 'vm'", "wireguard: no key pair for 'vpn'"],
    );
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['wireguard/vm/killswitch.nft', 'wireguard/vm/killswitch.rules.v4', 'wireguard/vm/killswitch.rules.v6'],
      'the kill switch needs no key',
    );
    const partial = wireguardRenderer.withKeys(testKeySource(['vpn', 'vm'])).render(ir, { host: undefined, params: new Map() });
    assert.deepEqual(
      partial.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message),
      ["wireguard: no key pair for 'data'"],
    );
  });

  it('a member with a spec publicKey gets a config without PrivateKey (not secret); the server uses that key', () => {
    const phone = testKeyPair('phone-of-a-customer');
    const text = VPN_ONLY.replace(
      'data: { kind: peer, via: wg0, address: 10.99.0.5,',
      `data: { kind: peer, via: wg0, address: 10.99.0.5, publicKey: "${phone.publicKey}",`,
    );
    const ir2 = irOfText(text);
    assert.deepEqual(wireguardRenderer.keyNames(ir2, { host: undefined, params: new Map() }), ['vm', 'vpn']);
    const r = renderWg(irOfText(text), {}, undefined);
    // testKeySource knows every name, so it holds a different pair for 'data': refused.
    assert.ok(r.diagnostics.some((d) => d.severity === 'error' && /differs from hosts\.data\.publicKey/.test(d.message)));
    const ok = wireguardRenderer.withKeys(testKeySource(['vm', 'vpn'])).render(ir2, { host: undefined, params: new Map() });
    assert.deepEqual(ok.diagnostics, []);
    const data = ok.files.find((f) => f.path === 'wireguard/data/wg0.conf')!;
    assert.equal(data.secret, false);
    assert.doesNotMatch(data.content, /^PrivateKey/m);
    assert.match(data.content, /^# PrivateKey: held by data's owner/m);
    assert.ok(fileOf(ok, 'wireguard/vpn/wg0.conf').includes(`PublicKey = ${phone.publicKey}\n`));
    const wgQuick = findProgram('wg-quick');
    if (wgQuick) {
      const dir = writeOut('public-only', ok);
      const res = run(wgQuick, ['strip', join(dir, 'wireguard/data/wg0.conf')])!;
      assert.equal(res.code, 0, res.out);
    }
  });

  it('refuses a key that is not base64 of 32 bytes in the spec', () => {
    const bad = VPN_ONLY.replace('address: 10.99.0.5,', 'address: 10.99.0.5, publicKey: "not-a-key",');
    assert.throws(() => irOfText(bad), /CORDON003.*WireGuard key/s);
  });

  it('generated pairs are real X25519: wg pubkey agrees', (t) => {
    const p = generateWgKeyPair();
    assert.ok(isWgKey(p.privateKey) && isWgKey(p.publicKey));
    assert.equal(publicKeyOf(p.privateKey), p.publicKey);
    const viaWg = wgPubkey(p.privateKey);
    if (viaWg === undefined) return skipOrFail(t, 'wg not installed');
    assert.equal(viaWg, p.publicKey);
    assert.equal(wgPubkey(testKeyPair('x').privateKey), testKeyPair('x').publicKey, 'test keys are valid keys too');
  });

  it('the key store: 0700 directory, 0600 files, pairs reused, open files refused', () => {
    const dir = join(tmp, 'store', 'spec');
    const a = openKeyStore(dir, ['vm', 'vpn']);
    assert.deepEqual(a.generated, ['vm', 'vpn']);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.deepEqual(readdirSync(dir).sort(), ['vm.key', 'vm.pub', 'vpn.key', 'vpn.pub']);
    assert.equal(readFileSync(join(dir, 'vm.pub'), 'utf8').trim(), a.source.keyPair('vm')!.publicKey);
    const b = openKeyStore(dir, ['vm', 'vpn', 'data']);
    assert.deepEqual(b.generated, ['data']);
    assert.deepEqual(b.source.keyPair('vm'), a.source.keyPair('vm'));
    chmodSync(join(dir, 'vm.key'), 0o644);
    assert.throws(() => openKeyStore(dir, ['vm']), /accessible to others/);
    chmodSync(join(dir, 'vm.key'), 0o600);
    chmodSync(dir, 0o755);
    assert.throws(() => openKeyStore(dir, ['vm']), /accessible to others/);
    chmodSync(dir, 0o700);
    assert.throws(() => openKeyStore(dir, ['../etc']), /not a plain name/);
    const pairs = mapKeySource(new Map([['x', testKeyPair('x')]]));
    assert.equal(pairs.keyPair('y'), undefined);
  });
});

describe('wireguard target: cordon render keeps secrets off the terminal', () => {
  const spec = join(tmp, 'cli.yaml');
  writeFileSync(spec, VPN_ONLY);
  const keys = join(tmp, 'cli-keys');
  const cordon = join(ROOT, 'bin', 'cordon');
  const privateKeys = (): string[] =>
    readdirSync(keys)
      .filter((f) => f.endsWith('.key'))
      .map((f) => readFileSync(join(keys, f), 'utf8').trim());

  it('printing (text and --json) shows the kill switch but no private key; --out writes the configs 0600', () => {
    const text = spawnSync(cordon, ['render', spec, '-t', 'wireguard', '--keys', keys], { encoding: 'utf8', cwd: tmp });
    assert.equal(text.status, 0, text.stderr);
    assert.equal(privateKeys().length, 3);
    assert.match(text.stderr, /generated a WireGuard key pair for vm/);
    assert.match(text.stdout, /# ==> wireguard\/vm\/wg0\.conf \(secret: not printed/);
    assert.match(text.stdout, /table inet cordon_killswitch/);
    const json = spawnSync(cordon, ['render', spec, '-t', 'wireguard', '--keys', keys, '--json'], { encoding: 'utf8', cwd: tmp });
    assert.equal(json.status, 0, json.stderr);
    const out = join(tmp, 'cli-out');
    const write = spawnSync(cordon, ['render', spec, '-t', 'wireguard', '--keys', keys, '--out', out], { encoding: 'utf8', cwd: tmp });
    assert.equal(write.status, 0, write.stderr);
    for (const k of privateKeys()) {
      for (const p of [text, json, write]) {
        assert.ok(!p.stdout.includes(k) && !p.stderr.includes(k), 'a private key reached the terminal');
      }
    }
    assert.doesNotMatch(json.stderr + write.stderr, /generated/, 'the second run reuses the stored pairs');
    for (const f of ['wireguard/vm/wg0.conf', 'wireguard/vpn/wg0.conf', 'wireguard/data/wg0.conf']) {
      assert.equal(statSync(join(out, f)).mode & 0o777, 0o600, f);
      assert.match(readFileSync(join(out, f), 'utf8'), /^PrivateKey = /m);
    }
    assert.equal(statSync(join(out, 'wireguard/vm/killswitch.nft')).mode & 0o777, 0o644);
    const vmKey = readFileSync(join(keys, 'vm.key'), 'utf8').trim();
    assert.ok(readFileSync(join(out, 'wireguard/vm/wg0.conf'), 'utf8').includes(`PrivateKey = ${vmKey}\n`), 'the config holds the stored key');
  });

  it('--host renders one host only; the default key directory is .cordon/keys/<spec name>', () => {
    const cwd = join(tmp, 'cwd');
    mkdirSync(cwd, { recursive: true });
    const r = spawnSync(cordon, ['render', spec, '-t', 'wireguard', '--host', 'vpn'], { encoding: 'utf8', cwd });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.match(/^# ==> .*$/gm), ['# ==> wireguard/vpn/wg0.conf (secret: not printed; use --out DIR to write it 0600)']);
    assert.equal(statSync(join(cwd, '.cordon', 'keys', 'cli')).mode & 0o777, 0o700);
  });
});

describe('wireguard target: AllowedIPs of a member that is not vpn-only', () => {
  it('the tunnel plus what the policy lets it reach behind the server, never the internet', () => {
    const ir = irOfText(`version: 1
networks:
  vmbr0: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
  vmbr1: { cidr: 192.168.100.0/24, egress: none }
tunnels:
  wg0: { server: pve, listen: 51820, cidr: 10.8.0.0/24 }
hosts:
  pve: { kind: hypervisor, uplink: enp1s0, nics: { vmbr0: 10.0.0.1, vmbr1: 192.168.100.1, wg0: 10.8.0.1, internet: 198.51.100.7 }, services: { ssh: tcp/22 } }
  web: { kind: vm, id: 101, nics: { vmbr0: 10.0.0.10 }, services: { web: tcp/8080 } }
  llm: { kind: vm, id: 102, nics: { vmbr1: 192.168.100.20 }, services: { api: tcp/11434 } }
  phone: { kind: peer, via: wg0, address: 10.8.0.2 }
policy:
  - allow: { from: phone, to: web.web }
  - allow: { from: phone, to: internet, ports: tcp/443 }
  - allow: { from: web, to: llm.api }
`);
    const r = renderWg(ir);
    const conf = fileOf(r, 'wireguard/phone/wg0.conf');
    assert.match(conf, /^AllowedIPs = 10\.8\.0\.0\/24, 10\.0\.0\.10\/32$/m);
    assert.match(conf, /^Endpoint = 198\.51\.100\.7:51820$/m);
    assert.match(conf, /^PersistentKeepalive = 25$/m, 'a roaming peer keeps its NAT mapping alive');
  });
});
