/**
 * The netplan and ifupdown importers (interface configs → networks, hosts, routes, resolvers).
 * Expectations come from interfaces(5) and netplan's YAML reference, not from the importers' output:
 * - interfaces(5): `#` comments only at the start of a line; a trailing backslash continues the
 *   line; `address A` with `netmask M`; `source` paths relative to the including file's directory,
 *   wildcards allowed; `source-directory` reads only run-parts names; options belong to an iface.
 * - netplan: `network: version: 2`; `routes: - to: default` (or 0.0.0.0/0) and the older
 *   `gateway4` are the default route; a bridge's `interfaces` are its ports; `set-name` names the
 *   interface a `match` selects; a WireGuard tunnel's `port` is where it listens, its keys are
 *   secrets.
 * Round trips (a law on every example): cordon's own netplan and ifupdown output, imported back,
 * gives every rendered host the same addresses, default route, routes and resolvers.
 * Goldens: seed 000's snippets (UPDATE_GOLDEN=1 rewrites them; review the diff).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../src/diag/diagnostic.js';
import { diskTree } from '../src/cli/commands/import-common.js';
import type { ImportResult, SourceTree } from '../src/import/common/contract.js';
import { ifupdownImporter } from '../src/import/ifupdown/index.js';
import { netplanImporter } from '../src/import/netplan/index.js';
import { compile } from '../src/ir/compile.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import type { Model } from '../src/model/types.js';
import { nameserversFor } from '../src/render/dns/index.js';
import { findRenderer } from '../src/render/registry.js';
import { parseSpecText } from '../src/spec/parse.js';
import { formatCidr, formatIPv4 } from '../src/util/ip.js';
import { exampleFiles, exampleName } from './support/golden.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Files in memory, with directories listed from the paths (for `source` wildcards and roots). */
function memTree(files: Record<string, string>): SourceTree {
  return {
    read: (p) => files[p],
    list: (p) => {
      const names = new Set(
        Object.keys(files)
          .filter((f) => f.startsWith(`${p}/`))
          .map((f) => f.slice(p.length + 1).split('/')[0]!),
      );
      return names.size > 0 ? [...names].sort() : undefined;
    },
  };
}

function ifupdown(files: Record<string, string>, paths: string[], host?: string): ImportResult {
  return ifupdownImporter.import({ paths, tree: memTree(files), topology: undefined, host });
}

function netplan(files: Record<string, string>, paths: string[], host?: string): ImportResult {
  return netplanImporter.import({ paths, tree: memTree(files), topology: undefined, host });
}

function modelOf(r: ImportResult): Model {
  assert.ok(!r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(r.diagnostics, null, 1));
  const m = loadModelFromText(r.text, 'imported.yaml');
  assert.ok(m.model, `${m.diagnostics.map((d) => `${d.line}: ${d.message}`).join('\n')}\n${r.text}`);
  return m.model;
}

function at(ds: readonly Diagnostic[], code: string): string[] {
  return ds.filter((d) => d.code === code).map((d) => `${d.file}:${d.line}`);
}

/** What an interface config says about a host: addresses by prefix (with interface), default route, routes, resolvers. */
function hostView(m: Model, name: string): unknown {
  const h = m.hosts.get(name);
  if (!h) return 'missing';
  return {
    nics: h.nics
      .filter((n) => m.networks.has(n.segment) && !n.ifname.startsWith('virbr'))
      .map((n) => `${formatCidr(m.networks.get(n.segment)!.cidr)} = ${formatIPv4(n.address)} on ${n.ifname}`)
      .sort(),
    defaultVia: h.defaultRoute.kind === 'gateway' ? formatIPv4(h.defaultRoute.via) : 'none',
    routes: h.routes.flatMap((r) => (r.via.kind === 'gateway' ? [`${formatCidr(r.to)} via ${formatIPv4(r.via.address)}`] : [])).sort(),
    nameservers: (nameserversFor(m, name)?.addresses ?? []).map(formatIPv4),
  };
}

describe('ifupdown: what interfaces(5) says', () => {
  it('static stanzas: A/LEN or A with netmask, gateway, bridge-ports; a physical port makes the bridge’s way out and the host a hypervisor', () => {
    const r = ifupdown(
      {
        'n/etc/hostname': 'pve.example.org\n',
        'n/etc/network/interfaces': `auto lo
iface lo inet loopback

iface enp1s0 inet manual

auto vmbr0
iface vmbr0 inet static
    address 203.0.113.10
    netmask 255.255.255.0
    gateway 203.0.113.1
    bridge-ports enp1s0
    bridge-stp off

auto vmbr1
iface vmbr1 inet static
    address 10.10.0.1/24
    bridge_ports none
    dns-nameservers 10.10.0.53 \\
        9.9.9.9
`,
      },
      ['n'],
    );
    const m = modelOf(r);
    const pve = m.hosts.get('pve');
    assert.equal(pve?.kind, 'hypervisor', 'the host is named by etc/hostname and holds bridges');
    assert.equal(pve?.uplink, 'enp1s0');
    assert.equal(formatCidr(m.networks.get('vmbr0')!.cidr), '203.0.113.0/24', 'netmask 255.255.255.0 is /24');
    assert.equal(m.networks.get('vmbr0')?.egress, 'nat');
    assert.equal(m.networks.get('vmbr1')?.egress, 'none', 'bridge-ports none: an isolated bridge');
    assert.deepEqual(hostView(m, 'pve'), {
      nics: ['10.10.0.0/24 = 10.10.0.1 on vmbr1', '203.0.113.0/24 = 203.0.113.10 on vmbr0'],
      defaultVia: '203.0.113.1',
      routes: [],
      nameservers: ['10.10.0.53', '9.9.9.9'],
    });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info'),
      [],
    );
  });

  it('source: relative to the including file, absolute under the root, wildcards, run-parts names for source-directory; outside the root refused', () => {
    const files = {
      'r/etc/network/interfaces': 'source interfaces.d/*.cfg\nsource-directory /etc/network/more\nsource ../../../../secret\n',
      'r/etc/network/interfaces.d/lan.cfg':
        'iface eth0 inet static\n  address 10.1.0.5/24\n  up ip route add 10.9.0.0/16 via 10.1.0.1\n  down ip route del 10.9.0.0/16 via 10.1.0.1\n',
      'r/etc/network/interfaces.d/skip.txt': 'iface eth9 inet static\n  address 10.99.0.5/24\n',
      'r/etc/network/more/wan': 'iface eth1 inet static\n  address 198.51.100.7/24\n  gateway 198.51.100.1\n',
      'r/etc/network/more/wan.dpkg-old': 'iface eth2 inet static\n  address 10.98.0.5/24\n',
      secret: 'iface eth3 inet static\n  address 10.97.0.5/24\n',
    };
    const r = ifupdown(files, ['vm1=r']);
    const refused = r.diagnostics.find((d) => d.severity === 'error');
    assert.ok(refused && refused.file === 'r/etc/network/interfaces' && refused.line === 3, JSON.stringify(r.diagnostics));
    assert.match(refused.message, /refused: '\.\.\/\.\.\/\.\.\/\.\.\/secret' leads outside r/);
    assert.equal(r.text, '', 'nothing is written when a file is refused');
    const ok = ifupdown({ ...files, 'r/etc/network/interfaces': files['r/etc/network/interfaces'].replace(/source \.\.\/.*\n/, '') }, ['vm1=r']);
    assert.deepEqual(hostView(modelOf(ok), 'vm1'), {
      nics: ['10.1.0.0/24 = 10.1.0.5 on eth0', '198.51.100.0/24 = 198.51.100.7 on eth1'],
      defaultVia: '198.51.100.1',
      routes: ['10.9.0.0/16 via 10.1.0.1'],
      nameservers: [],
    });
  });

  it('what is not read is a warning at its line: post-up commands, DHCP, IPv6, mapping, unknown options', () => {
    const r = ifupdown(
      {
        'i/interfaces': `# a comment
iface eth0 inet static
    address 10.2.0.5/24
    post-up /usr/local/bin/firewall.sh
    frobnicate yes
iface eth0 inet6 static
    address fd00::5/64
iface eth1 inet dhcp
mapping eth2
    script /usr/local/sbin/map-scheme
    map HOME eth2-home
`,
      },
      ['vm=i/interfaces'],
    );
    assert.deepEqual(at(r.diagnostics, 'CORDON044'), ['i/interfaces:4', 'i/interfaces:5', 'i/interfaces:8', 'i/interfaces:9']);
    assert.deepEqual(at(r.diagnostics, 'CORDON046'), ['i/interfaces:6']);
    assert.match(r.diagnostics.find((d) => d.line === 4)!.message, /post-up \/usr\/local\/bin\/firewall\.sh: a command cordon does not read/);
    assert.deepEqual(hostView(modelOf(r), 'vm'), { nics: ['10.2.0.0/24 = 10.2.0.5 on eth0'], defaultVia: 'none', routes: [], nameservers: [] });
  });

  it('malformed files are errors at their line: an option outside a stanza, an end-of-line comment, a bad netmask, a short iface line', () => {
    const r = ifupdown(
      {
        'b/interfaces':
          'address 10.0.0.1/24\niface eth0 inet static\n    address 10.0.0.5/24 # lan\niface eth1 inet static\n    address 10.0.1.5\n    netmask 255.0.255.0\niface eth2 inet\n',
      },
      ['vm=b/interfaces'],
    );
    assert.deepEqual(
      r.diagnostics.filter((d) => d.code === 'CORDON045').map((d) => d.line),
      [1, 3, 6, 7],
    );
    assert.equal(r.text, '');
  });
});

describe('netplan: what its YAML reference says', () => {
  it('routes to default, gateway4, a bridge with its ports, a VLAN, set-name, nameservers', () => {
    const r = netplan(
      {
        'h/01.yaml': `network:
  version: 2
  renderer: networkd
  ethernets:
    nic0:
      match: { macaddress: "52:54:00:00:00:01" }
      set-name: enp1s0
    lan:
      addresses: [10.3.0.5/24]
      routes:
        - { to: 172.16.0.0/12, via: 10.3.0.254 }
  bridges:
    br0:
      interfaces: [enp1s0]
      addresses: [192.0.2.10/24]
      gateway4: 192.0.2.1
      nameservers: { addresses: [192.0.2.53], search: [example.org] }
      parameters: { stp: false }
  vlans:
    vlan20:
      id: 20
      link: lan
      addresses: [10.20.0.5/24]
`,
      },
      ['h/01.yaml'],
      'gw',
    );
    const m = modelOf(r);
    assert.equal(m.hosts.get('gw')?.kind, 'hypervisor');
    assert.equal(m.hosts.get('gw')?.uplink, 'enp1s0', 'the bridge port is the set-name of the matched NIC');
    assert.equal(m.networks.get('br0')?.egress, 'nat');
    assert.deepEqual(hostView(m, 'gw'), {
      nics: ['10.20.0.0/24 = 10.20.0.5 on vlan20', '10.3.0.0/24 = 10.3.0.5 on lan', '192.0.2.0/24 = 192.0.2.10 on br0'],
      defaultVia: '192.0.2.1',
      routes: ['172.16.0.0/12 via 10.3.0.254'],
      nameservers: ['192.0.2.53'],
    });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info'),
      [],
    );
  });

  it('WireGuard tunnels: the one with a port is the server; keys are never copied', () => {
    const KEY = 'aGVsbG8gdGhpcyBpcyBub3QgYSByZWFsIGtleSAxMjM0NTY=';
    const srv = `network:\n  version: 2\n  tunnels:\n    wg0:\n      mode: wireguard\n      port: 51820\n      key: ${KEY}\n      addresses: [10.8.0.1/24]\n      peers:\n        - keys: { public: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg= }\n          allowed-ips: [10.8.0.2/32]\n  ethernets:\n    eth0: { addresses: [198.51.100.1/24] }\n`;
    const cli = `network:\n  version: 2\n  tunnels:\n    wg0:\n      mode: wireguard\n      key: ${KEY}\n      addresses: [10.8.0.2/24]\n  ethernets:\n    eth0: { addresses: [198.51.100.2/24], routes: [{ to: 0.0.0.0/0, via: 198.51.100.1 }] }\n`;
    const r = netplan({ 's.yaml': srv, 'c.yaml': cli }, ['srv=s.yaml', 'laptop=c.yaml']);
    const m = modelOf(r);
    assert.equal(m.tunnels.get('wg0')?.server, 'srv');
    assert.equal(m.tunnels.get('wg0')?.listen, 51820);
    assert.ok(m.hosts.get('laptop')?.nics.some((n) => n.segment === 'wg0' && formatIPv4(n.address) === '10.8.0.2'));
    assert.equal(hostView(m, 'laptop') && (hostView(m, 'laptop') as { defaultVia: string }).defaultVia, '198.51.100.1', 'to: 0.0.0.0/0 is the default route');
    assert.ok(!(r.text + JSON.stringify(r.diagnostics)).includes(KEY), 'a key leaked');
  });

  it('what is not read is a warning at its line: DHCP, IPv6, an unknown key, a match without set-name, other device kinds, policy routing', () => {
    const r = netplan(
      {
        'w.yaml': `network:
  version: 2
  ethernets:
    eth0:
      dhcp4: true
    eth1:
      addresses: [10.4.0.5/24, "fd00::5/64"]
      frobnicate: 1
      routes:
        - to: 10.40.0.0/16
          via: 10.4.0.1
          table: 100
    any:
      match: { name: "en*" }
      addresses: [10.5.0.5/24]
  wifis:
    wlan0: {}
`,
      },
      ['vm=w.yaml'],
    );
    assert.deepEqual(at(r.diagnostics, 'CORDON044'), ['w.yaml:5', 'w.yaml:8', 'w.yaml:12', 'w.yaml:14', 'w.yaml:16']);
    assert.deepEqual(at(r.diagnostics, 'CORDON046'), ['w.yaml:7']);
    modelOf(r);
  });

  it('malformed files are errors at their line: YAML syntax, version 1, an address without a prefix, a bad via', () => {
    const syntax = netplan({ 'a.yaml': 'network:\n  version: 2\n  ethernets:\n    eth0: { addresses: [10.0.0.1/24\n' }, ['vm=a.yaml']);
    assert.ok(
      syntax.diagnostics.some((d) => d.severity === 'error' && d.file === 'a.yaml' && d.line > 0),
      JSON.stringify(syntax.diagnostics),
    );
    const v1 = netplan({ 'b.yaml': 'network:\n  version: 1\n' }, ['vm=b.yaml']);
    assert.deepEqual(at(v1.diagnostics, 'CORDON045'), ['b.yaml:2']);
    const bad = netplan(
      {
        'c.yaml':
          'network:\n  version: 2\n  ethernets:\n    eth0:\n      addresses: [10.0.0.1]\n      routes:\n        - to: default\n          via: 10.0.0.999\n',
      },
      ['vm=c.yaml'],
    );
    assert.deepEqual(at(bad.diagnostics, 'CORDON045'), ['c.yaml:5', 'c.yaml:8']);
    assert.equal(bad.text, '');
    const notNetplan = netplan({ 'd.yaml': 'version: 1\nhosts: {}\n' }, ['vm=d.yaml']);
    assert.match(notNetplan.diagnostics[0]!.message, /not a netplan file/);
  });
});

describe('hostile names cannot write their own lines into the spec', () => {
  const payloads = ['x\n  evil: 1\n#', 'x"\nfirewalls: {}\n#', 'x\u202egnp', 'x\u2028y'];

  it('interface and bridge names: refused at their line with the characters shown, nothing written', () => {
    for (const p of payloads) {
      const n = netplan({ 'a.yaml': `network:\n  version: 2\n  ethernets:\n    ${JSON.stringify(p)}:\n      addresses: [10.0.0.5/24]\n` }, ['vm=a.yaml']);
      const e = n.diagnostics.find((d) => d.severity === 'error');
      assert.ok(e && e.file === 'a.yaml' && e.line === 4, `${JSON.stringify(p)}: ${JSON.stringify(n.diagnostics)}`);
      assert.equal(n.text, '');
      const line = p.replace(/\n/g, ' ');
      const i = ifupdown({ 'i/interfaces': `iface ${line} inet static\n  address 10.0.0.5/24\n  bridge-ports none\n` }, ['vm=i/interfaces']);
      assert.ok(
        i.diagnostics.some((d) => d.severity === 'error' && d.line === 1),
        `${JSON.stringify(line)}: ${JSON.stringify(i.diagnostics)}`,
      );
      assert.equal(i.text, '');
    }
  });

  it('host names from HOST= or etc/hostname: refused unless a cordon name', () => {
    const r = ifupdown({ 'n/etc/hostname': 'evil\nfirewalls:\n', 'n/etc/network/interfaces': 'iface eth0 inet static\n  address 10.0.0.5/24\n' }, ['n']);
    assert.ok(!r.text.includes('\nfirewalls:'), r.text);
    const h = netplan({ 'a.yaml': 'network:\n  version: 2\n' }, ['a"b=a.yaml']);
    assert.ok(h.diagnostics.some((d) => d.severity === 'error'));
  });

  it('file names: flattened into the header comment and quoted in descriptions; the spec parses and says only what the file says', () => {
    for (const p of payloads) {
      const file = `dir/${p}.yaml`;
      const r = netplan({ [file]: 'network:\n  version: 2\n  ethernets:\n    eth0: { addresses: [10.0.0.5/24] }\n' }, [`vm=${file}`]);
      const m = modelOf(r);
      assert.deepEqual([...m.hosts.keys()], ['vm'], JSON.stringify(p));
      assert.deepEqual([...m.networks.keys()], ['net-10-0-0-0-24']);
      const parsed = parseSpecText(r.text, 'imported.yaml');
      assert.ok(parsed.ok && parsed.value.spec.firewalls === undefined && !('evil' in (parsed.value.spec as Record<string, unknown>)), r.text);
    }
  });
});

describe('round trips: cordon’s own netplan and ifupdown output, imported back, gives the same addresses and routes', () => {
  for (const target of ['netplan', 'ifupdown'] as const) {
    for (const file of exampleFiles()) {
      it(`${target}: ${exampleName(file)}`, () => {
        const loaded = loadModel(file);
        assert.ok(loaded.model);
        const out = findRenderer(target)!.render(compile(loaded.model), { host: undefined, params: new Map() });
        const files: Record<string, string> = {};
        const paths: string[] = [];
        for (const f of out.files) {
          files[f.path] = f.content;
          paths.push(`${f.path.split('/')[1]!}=${f.path}`);
        }
        const hosts = paths.map((p) => p.split('=')[0]!).filter((h) => (hostView(loaded.model!, h) as { nics: string[] }).nics.length > 0);
        const r = (target === 'netplan' ? netplan : ifupdown)(files, paths);
        assert.deepEqual(
          r.diagnostics.filter((d) => d.severity !== 'info'),
          [],
          "the importer reads all of cordon's own output",
        );
        if (hosts.length === 0) return;
        const back = modelOf(r);
        for (const h of hosts) assert.deepEqual(hostView(back, h), hostView(loaded.model, h), `${h}`);
        for (const h of hosts)
          if (loaded.model.hosts.get(h)!.kind === 'vm') assert.equal(back.hosts.get(h)?.kind, 'vm', `${h}: an in-guest config is taken as a VM`);
      });
    }
  }
});

describe('seed 000: golden imports of its netplan and ifupdown snippets', () => {
  const dir = 'examples/seed-configs/000';
  const topo = parseSpecText(readFileSync(`${dir}/topology.yaml`, 'utf8'), `${dir}/topology.yaml`);
  assert.ok(topo.ok);
  const cases: { golden: string; run: () => ImportResult }[] = [
    {
      golden: 'netplan/seed-000.yaml',
      run: () =>
        netplanImporter.import({
          paths: [`agentfarm=${dir}/netplan/agentfarm.yaml`, `ollama=${dir}/netplan/ollama.yaml`],
          tree: diskTree,
          topology: undefined,
          host: undefined,
        }),
    },
    {
      golden: 'netplan/seed-000-topology.yaml',
      run: () =>
        netplanImporter.import({
          paths: [`agentfarm=${dir}/netplan/agentfarm.yaml`, `ollama=${dir}/netplan/ollama.yaml`],
          tree: diskTree,
          topology: { spec: topo.value.spec, file: `${dir}/topology.yaml` },
          host: undefined,
        }),
    },
    {
      golden: 'ifupdown/seed-000.yaml',
      run: () => ifupdownImporter.import({ paths: [`pve=${dir}/root`], tree: diskTree, topology: undefined, host: undefined }),
    },
  ];
  for (const c of cases) {
    it(c.golden, () => {
      const r = c.run();
      const m = modelOf(r);
      const path = join(ROOT, 'test/import-golden', c.golden);
      if (process.env.UPDATE_GOLDEN === '1') {
        mkdirSync(join(path, '..'), { recursive: true });
        writeFileSync(path, r.text);
      }
      assert.equal(r.text, readFileSync(path, 'utf8'));
      if (c.golden.startsWith('netplan')) {
        // The seed's own words: AgentFarm routes through 10.0.0.1 with 1.1.1.1 and 8.8.8.8; Ollama has no route and no DNS.
        assert.deepEqual(hostView(m, 'agentfarm'), {
          nics: [`10.0.0.0/24 = 10.0.0.10 on ens18`, `192.168.100.0/24 = 192.168.100.10 on ens19`],
          defaultVia: '10.0.0.1',
          routes: [],
          nameservers: ['1.1.1.1', '8.8.8.8'],
        });
        assert.deepEqual(hostView(m, 'ollama'), { nics: ['192.168.100.0/24 = 192.168.100.20 on ens18'], defaultVia: 'none', routes: [], nameservers: [] });
      } else {
        assert.equal(m.hosts.get('pve')?.uplink, 'enp1s0');
        assert.equal(m.networks.get('vmbr1')?.egress, 'none', 'bridge-ports none: "Ingen gateway = ingen internetåtkomst"');
      }
    });
  }
});

describe('cordon import --from netplan|ifupdown (CLI)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cordon-ifaces-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const cordon = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(join(ROOT, 'bin/cordon'), args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('the seed’s hypervisor, then its VMs, then its firewall: each import is the next one’s --topology', () => {
    const dir = 'examples/seed-configs/000';
    const t1 = join(tmp, 'bridges.yaml');
    const t2 = join(tmp, 'machines.yaml');
    assert.equal(cordon('import', '--from', 'ifupdown', `${dir}/root`, '--host', 'pve', '-o', t1).status, 0);
    const vms = cordon(
      'import',
      '--from',
      'netplan',
      `agentfarm=${dir}/netplan/agentfarm.yaml`,
      `ollama=${dir}/netplan/ollama.yaml`,
      '--topology',
      t1,
      '-o',
      t2,
    );
    assert.equal(vms.status, 0, vms.stderr);
    const rules = join(tmp, 'rules.v4');
    writeFileSync(
      rules,
      '*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A FORWARD -i vmbr0 -o vmbr0 -j ACCEPT\nCOMMIT\n',
    );
    const a = cordon('audit', '--from', 'iptables', rules, '--host', 'pve', '--topology', t2, '--json');
    const j = JSON.parse(a.stdout) as { matrix: unknown; diagnostics: Diagnostic[] };
    const text = JSON.stringify(j.matrix);
    assert.ok(!j.diagnostics.some((d) => d.code === 'CORDON038'), 'the hypervisor whose rules were imported owns its bridges');
    assert.match(text, /agentfarm/);
    const list = cordon('audit', '--from', 'iptables', rules, '--host', 'pve', '--topology', t2).stdout;
    assert.match(list, /agentfarm\s+→\s+pve\s+tcp\/22\n/, 'INPUT lets ssh in, nothing else');
    assert.doesNotMatch(list, /ollama\s+→\s+agentfarm/, 'FORWARD drops vmbr1 traffic between the guests (through the hypervisor)');
  });

  it('warnings: exit 1 and the spec is written; --strict makes them errors (exit 2, nothing written)', () => {
    const f = join(tmp, 'interfaces');
    writeFileSync(f, 'iface eth0 inet static\n    address 10.0.0.5/24\n    post-up /usr/local/bin/fw.sh\n');
    const out = join(tmp, 'w.yaml');
    const r = cordon('import', '--from', 'ifupdown', `vm=${f}`, '-o', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${f}:3:1: warning CORDON044: post-up /usr/local/bin/fw\\.sh`));
    assert.equal(cordon('check', out).status, 0);
    const s = cordon('import', '--from', 'ifupdown', `vm=${f}`, '--strict', '-o', join(tmp, 's.yaml'));
    assert.equal(s.status, 2);
    assert.throws(() => readFileSync(join(tmp, 's.yaml')), /ENOENT/);
  });

  it('a link inside the root that leads out of it is refused, at the source line that reached it', () => {
    const root = join(tmp, 'linkroot');
    mkdirSync(join(root, 'etc/network/interfaces.d'), { recursive: true });
    writeFileSync(join(tmp, 'outside'), 'iface eth9 inet static\n  address 10.66.0.5/24\n');
    writeFileSync(join(root, 'etc/network/interfaces'), 'iface eth0 inet static\n  address 10.0.0.5/24\nsource interfaces.d/*\n');
    symlinkSync(join(tmp, 'outside'), join(root, 'etc/network/interfaces.d/evil'));
    const r = cordon('import', '--from', 'ifupdown', `vm=${root}`);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${join(root, 'etc/network/interfaces')}:3:1: error CORDON045: refused: .*evil is a link to a file outside`));
    assert.doesNotMatch(r.stdout + r.stderr, /10\.66\.0\.5/, 'nothing of the outside file is read');
  });

  it('bad input: exit 2 with file and line, no stack trace', () => {
    const f = join(tmp, 'bad.yaml');
    writeFileSync(f, 'network:\n  version: 2\n  ethernets:\n    eth0:\n      addresses: [10.0.0.300/24]\n');
    const r = cordon('import', '--from', 'netplan', `vm=${f}`);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`${f}:5:\\d+: error CORDON045`));
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
  });
});
