/**
 * `cordon import` and `cordon audit` as a user runs them (bin/cordon): exit codes (0 clean, 1
 * findings, 2 bad input), --strict, --json, findings located at the original file and line with a
 * suggested fix, and the seeds' own configurations (examples/seed-configs/) with the mistakes the
 * seeds make.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cordon-audit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cordon(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(ROOT, 'bin/cordon'), args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Json {
  diagnostics: { code: string; severity: string; file: string; line: number; message: string; hint?: string }[];
  checks?: { kind: string; name: string; ok: boolean }[];
  matrix?: unknown;
  spec?: string;
}

function write(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const CLEAN = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -s 192.0.2.0/24 -p tcp --dport 22 -j ACCEPT
COMMIT
`;

describe('cordon import', () => {
  it('writes a spec that cordon check accepts, with the source of every rule; exit 0 when exact', () => {
    const rules = write('clean.v4', CLEAN);
    const out = join(tmp, 'clean.yaml');
    const r = cordon('import', '--from', 'iptables', rules, '--host', 'web', '-o', out);
    assert.equal(r.status, 0, r.stderr);
    const spec = readFileSync(out, 'utf8');
    assert.match(spec, new RegExp(`# ${rules}:7: -A INPUT -s 192\\.0\\.2\\.0/24 -p tcp --dport 22 -j ACCEPT`));
    assert.equal(cordon('check', out).status, 0);
  });

  it('exit 1 with located warnings (the spec is still written); --strict makes them errors, exit 2, nothing written', () => {
    const rules = write('owner.v4', CLEAN.replace('COMMIT', '-A INPUT -m owner --uid-owner 0 -j ACCEPT\nCOMMIT'));
    const out = join(tmp, 'owner.yaml');
    const r = cordon('import', '--from', 'iptables', rules, '--host', 'web', '-o', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${rules}:8:1: warning CORDON044: -m owner --uid-owner 0`));
    assert.ok(readFileSync(out, 'utf8').includes('firewalls:'));
    const strictOut = join(tmp, 'strict.yaml');
    const s = cordon('import', '--from', 'iptables', rules, '--host', 'web', '--strict', '-o', strictOut);
    assert.equal(s.status, 2);
    assert.match(s.stderr, /error CORDON044/);
    assert.throws(() => readFileSync(strictOut), /ENOENT/);
  });

  it('bad input is exit 2 with the file and line: a malformed file, an unknown format, a missing file', () => {
    const bad = write('bad.v4', '*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.0.0.999 -j ACCEPT\nCOMMIT\n');
    const r = cordon('import', '--from', 'iptables', bad, '--host', 'web');
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`${bad}:3:1: error CORDON045: '10\\.0\\.0\\.999' is not an IPv4 address`));
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
    const u = cordon('import', '--from', 'pf', bad);
    assert.equal(u.status, 2);
    assert.match(u.stderr, /unknown format 'pf'/);
    const m = cordon('import', '--from', 'iptables', join(tmp, 'nope.v4'), '--host', 'web');
    assert.equal(m.status, 2);
    assert.match(m.stderr, /cannot read .*nope\.v4/);
  });

  it('an imported value cordon refuses (an interface name) is bad input shown at its source line', () => {
    const bad = write('ifname.v4', '*filter\n:INPUT DROP [0:0]\n-A INPUT -i bad/name -j ACCEPT\nCOMMIT\n');
    const r = cordon('import', '--from', 'iptables', bad, '--host', 'web', '--json');
    assert.equal(r.status, 2);
    const j = JSON.parse(r.stdout) as Json;
    assert.ok(
      j.diagnostics.some((d) => d.file === bad && d.line === 3 && d.severity === 'error'),
      JSON.stringify(j.diagnostics),
    );
    assert.equal(j.spec, undefined);
  });
});

describe('cordon import --from libvirt', () => {
  const dom = (filter: string): string =>
    `<domain><name>vm1</name><devices><interface type='network'><source network='lab'/><filterref filter='${filter}'><parameter name='IP' value='10.7.0.5'/></filterref></interface></devices></domain>\n`;
  const net = "<network><name>lab</name><forward mode='nat'/><bridge name='virbr7'/><ip address='10.7.0.1' prefix='24'/></network>\n";

  it('a malformed filter is exit 2 with its file, line and column; nothing is written', () => {
    const dir = join(tmp, 'lv-bad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'net.xml'), net);
    writeFileSync(join(dir, 'vm1.xml'), dom('f'));
    writeFileSync(
      join(dir, 'f.xml'),
      "<filter name='f' chain='root'>\n  <rule action='accept' direction='out'>\n    <tcp dstportstart='22'>\n  </rule>\n</filter>\n",
    );
    const out = join(tmp, 'lv-bad.yaml');
    const r = cordon('import', '--from', 'libvirt', dir, '-o', out);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${join(dir, 'f.xml')}:4:3: error CORDON045: not well-formed XML: </rule> closes <tcp> \\(line 3\\)`));
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
    assert.throws(() => readFileSync(out), /ENOENT/);
  });

  it('what nwfilter says and cordon cannot is a warning (exit 1, spec written); --strict makes it an error (exit 2)', () => {
    const dir = join(tmp, 'lv-mac');
    mkdirSync(dir);
    writeFileSync(join(dir, 'net.xml'), net);
    writeFileSync(join(dir, 'vm1.xml'), dom('f'));
    writeFileSync(
      join(dir, 'f.xml'),
      "<filter name='f' chain='root'>\n  <rule action='accept' direction='out'>\n    <tcp srcmacaddr='52:54:00:00:00:01'/>\n  </rule>\n</filter>\n",
    );
    const out = join(tmp, 'lv-mac.yaml');
    const r = cordon('import', '--from', 'libvirt', dir, '-o', out);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${join(dir, 'f.xml')}:2:3: warning CORDON044: srcmacaddr='52:54:00:00:00:01'`));
    assert.equal(cordon('check', out).status, 0, 'the imported spec is valid');
    const s = cordon('import', '--from', 'nwfilter', dir, '--strict');
    assert.equal(s.status, 2);
    assert.match(s.stderr, /error CORDON044/);
  });
});

describe('cordon audit', () => {
  it('exit 0 on a configuration with no findings; --json has diagnostics, checks and the matrix', () => {
    const rules = write('clean2.v4', CLEAN);
    const r = cordon('audit', '--from', 'iptables', rules, '--host', 'web', '--json');
    assert.equal(r.status, 0, r.stdout);
    const j = JSON.parse(r.stdout) as Json;
    assert.deepEqual(j.diagnostics, []);
    assert.ok(Array.isArray(j.checks) && j.matrix !== undefined);
  });

  it('exit 2 on bad input', () => {
    const bad = write('bad2.v4', '*filter\n-A NOPE -j ACCEPT\nCOMMIT\n');
    const r = cordon('audit', '--from', 'iptables', bad, '--host', 'web');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad2\.v4:2:1: error CORDON045: no chain 'NOPE'/);
  });
});

describe('cordon audit on the seeds’ own configurations', () => {
  const dir = 'examples/seed-configs';

  it("seed 004: the in-guest rules allow only lo and wg0, so the tunnel's own UDP transport is dropped and the VPN never comes up", () => {
    const r = cordon('audit', '--from', 'iptables', `${dir}/004/rules.sh`, '--topology', `${dir}/004/topology.yaml`, '--host', 'workload-vm', '--json');
    assert.equal(r.status, 1);
    const j = JSON.parse(r.stdout) as Json;
    // The rules file's line 3 is `iptables -P OUTPUT DROP`: the policy that drops the handshake.
    assert.equal(readFileSync(`${dir}/004/rules.sh`, 'utf8').split('\n')[2], 'iptables -P OUTPUT DROP              # Drop all outgoing by default');
    const blocked = j.diagnostics.find((d) => d.code === 'CORDON036');
    assert.ok(blocked, JSON.stringify(j.diagnostics, null, 1));
    assert.equal(`${blocked.file}:${blocked.line}`, `${dir}/004/rules.sh:3`);
    assert.match(blocked.message, /tunnel 'wg0' cannot come up for workload-vm: its UDP transport to 203\.0\.113\.1:51820 is dropped/);
    assert.match(blocked.hint ?? '', /allow udp\/51820 to 203\.0\.113\.1/);
    const vpnOnly = j.diagnostics.find((d) => d.code === 'CORDON048' && d.message.startsWith('invariant vpn-only'));
    assert.ok(vpnOnly && `${vpnOnly.file}:${vpnOnly.line}` === `${dir}/004/rules.sh:3`, JSON.stringify(vpnOnly));
    // The second mistake: the only wall is inside the guest; a compromised guest reaches the LAN.
    const lan = j.diagnostics.find((d) => d.code === 'CORDON048' && d.message.includes('lan-device'));
    assert.ok(lan && lan.file === `${dir}/004/topology.yaml`, JSON.stringify(lan));
    assert.match(lan.hint ?? '', /inside the guest.*compromised guest removes it/);
  });

  function audit(seed: string): Json {
    const r = cordon('audit', '--from', 'proxmox', `${dir}/${seed}/root`, '--topology', `${dir}/${seed}/topology.yaml`, '--json');
    assert.equal(r.status, 1, r.stderr);
    return JSON.parse(r.stdout) as Json;
  }

  it('seed 000: cluster.fw blocks the bridges with a FORWARD rule the classic Proxmox firewall does not read, and in one direction only', () => {
    const j = audit('000');
    const fw = `${dir}/000/root/etc/pve/firewall/cluster.fw`;
    assert.equal(readFileSync(fw, 'utf8').split('\n')[15], 'FORWARD DROP -i vmbr0 -o vmbr1');
    const d = j.diagnostics.find((x) => x.code === 'CORDON044' && x.file === fw && x.line === 16);
    assert.ok(d, JSON.stringify(j.diagnostics, null, 1));
    assert.match(d.message, /classic pve-firewall .* does not accept/);
    assert.match(d.message, /only vmbr0 → vmbr1, never vmbr1 → vmbr0/);
    assert.match(d.hint ?? '', /per-guest IN\/OUT rules/);
    // With the rule not in force, the topology's own expectation fails: a WireGuard client reaches Ollama.
    const leak = j.diagnostics.find((x) => x.code === 'CORDON048' && x.message.includes('wg-client → ollama'));
    assert.ok(leak && leak.file === `${dir}/000/topology.yaml`, JSON.stringify(leak));
  });

  it("seed 003: rules for a guest's address sit in the host rule set, and per-guest OUT rules meet the destination's IN policy DROP", () => {
    const j = audit('003');
    const cluster = `${dir}/003/root/etc/pve/firewall/cluster.fw`;
    const inert = j.diagnostics.filter((x) => x.code === 'CORDON049').map((x) => `${x.file}:${x.line}`);
    assert.deepEqual(inert, [`${cluster}:7`, `${cluster}:8`]);
    assert.match(j.diagnostics.find((x) => x.code === 'CORDON049')!.hint ?? '', /101\.fw/);
    const blocked = j.diagnostics.find((x) => x.code === 'CORDON048' && x.message.startsWith("expectation 'nginx → traefik tcp/80: allow'"));
    assert.ok(
      blocked,
      JSON.stringify(
        j.diagnostics.filter((x) => x.code === 'CORDON048'),
        null,
        1,
      ),
    );
    assert.equal(blocked.file, `${dir}/003/root/etc/pve/firewall/102.fw`);
    assert.match(blocked.message, /decided by policy DROP of traefik:guest-in/);
    assert.match(blocked.hint ?? '', /add an ACCEPT/);
  });

  it('seed 001: the nwfilter accepts tcp/22, 80, 443 and 9418 to any address, so each VM reaches its host although the seed says VM-to-host is blocked', () => {
    const root = `${dir}/001/root`;
    const r = cordon('audit', '--from', 'libvirt', root, '--topology', `${dir}/001/topology.yaml`, '--json');
    assert.equal(r.status, 1, r.stderr);
    const j = JSON.parse(r.stdout) as Json;
    const filter = `${root}/etc/libvirt/nwfilter/agent-network-filter.xml`;
    const lines = readFileSync(filter, 'utf8').split('\n');
    // Lines 8, 11, 16 and 21 are the <rule>s accepting tcp/80, 443, 22 and 9418, none of which names a destination.
    assert.match(lines[15]!, /<rule action='accept' direction='out'>/);
    assert.match(lines[16]!, /<tcp dstportstart='22' dstportend='22'\/>/);
    const toHost = j.diagnostics.filter((d) => d.code === 'CORDON048' && d.message.startsWith('invariant no-vm-to-host'));
    assert.deepEqual(toHost.map((d) => d.message.split(':')[1]!.trim()).sort(), ['agent-1 (guest compromised)', 'agent-2 (guest compromised)']);
    for (const d of toHost) {
      assert.equal(d.file, filter);
      assert.ok([8, 11, 16, 21].includes(d.line), `${d.line}`);
      assert.match(d.message, /reaches hypervisor kvm-host on tcp\/22,80,443,9418/);
      assert.match(d.hint ?? '', /narrow its source or destination/);
    }
    // The seed's own "Blocked: VM-to-host communication": SSH to the host, decided by the SSH accept at line 16.
    const ssh = j.diagnostics.find((d) => d.code === 'CORDON048' && d.message.startsWith("expectation 'agent-1 → kvm-host tcp/22: deny'"));
    assert.ok(ssh && `${ssh.file}:${ssh.line}` === `${filter}:16`, JSON.stringify(ssh));
    const anyDest = j.diagnostics.find((d) => d.code === 'CORDON035' && d.file === filter);
    assert.ok(anyDest && /not only to the internet/.test(anyDest.message) && /add `to: internet`/.test(anyDest.hint ?? ''), JSON.stringify(anyDest));
    // VM-to-VM holds: the same filter on the receiving VM drops every new incoming connection.
    assert.ok(!j.diagnostics.some((d) => d.message.includes('no-vm-to-vm')), JSON.stringify(j.diagnostics.map((d) => d.message)));
  });
});
