/**
 * The guard's pure parts: the event schema, the bounded writer (drops counted, never silent, order
 * kept), NFLOG prefixes and their mapping back to the spec's rules (the rule of a set-lookup run
 * the packet actually hit, or the chain default), destination classes, the drift comparison, the
 * ulogd line parser and config, listen addresses, and bounded metric labels.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { reloadTransaction } from '../src/apply/reload.js';
import { parseConntrackLine } from '../src/guard/conntrack.js';
import { parseLinkStats, TrafficTally, trafficPorts } from '../src/guard/traffic.js';
import { expectedPeers, parseWgDump, peerName, VpnHealth, vpnTunnels } from '../src/guard/vpn.js';
import { formatEvent } from '../src/guard/format.js';
import { summarizeEvents } from '../src/guard/summary.js';
import { droppedPackets, UnloggedTally } from '../src/guard/counters.js';
import { baseChains, compareTables } from '../src/guard/drift.js';
import { eventLine, parseEventLine, type GuardEvent } from '../src/guard/events.js';
import { GuardMetrics, parseListen } from '../src/guard/metrics.js';
import { parseUlogdLine, ULOGD_PLUGIN_DIR, ulogdConfig } from '../src/guard/nflog.js';
import { killswitchRuleset } from '../src/guard/killswitch.js';
import { destClass, OriginIndex } from '../src/guard/origin.js';
import { EventWriter } from '../src/guard/writer.js';
import { NFLOG_GROUP, nflogPrefix, parseNflogPrefix } from '../src/model/names.js';
import { parseIPv4 } from '../src/util/ip.js';
import { irOfFile } from './support/golden.js';

const NFLOG_PLUGIN = `${ULOGD_PLUGIN_DIR}/ulogd_inppkt_NFLOG.so`;

const ev = (n: number): GuardEvent => ({
  v: 1,
  time: new Date(1_700_000_000_000 + n).toISOString(),
  type: 'guard-started',
  host: 'h',
  netns: null,
  message: `m${n}`,
});

/** A stream that holds every write until `release()` (a consumer that stopped reading). */
class StuckStream extends Writable {
  readonly lines: string[] = [];
  private held: (() => void)[] = [];
  constructor() {
    super({ highWaterMark: 1 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    this.held.push(cb);
  }
  release(): void {
    const h = this.held;
    this.held = [];
    for (const cb of h) cb();
  }
}

describe('guard events: schema', () => {
  it('writes one JSON object per event and reads it back', () => {
    const line = eventLine(ev(1));
    assert.ok(!line.includes('\n'));
    assert.deepEqual(parseEventLine(line), ev(1));
  });

  it('refuses an event that breaks the schema (a bug, not a silent bad line)', () => {
    assert.throws(() => eventLine({ ...ev(1), time: 'yesterday' }), /breaks its schema: time/);
    assert.equal(parseEventLine('{"v":1,"type":"blocked"}'), undefined);
    assert.equal(parseEventLine('not json'), undefined);
  });
});

describe('guard events: bounded writer', () => {
  it('queues up to the limit while the consumer is stuck, drops and counts the rest, then delivers in order', async () => {
    const out = new StuckStream();
    let dropped = 0;
    const w = new EventWriter(out, { limit: 3, onDrop: (n) => (dropped += n) });
    const results = Array.from({ length: 10 }, (_, i) => w.write(ev(i)));
    // The first goes into the stream (which then reports itself full), three wait, six are dropped.
    assert.deepEqual(results, [true, true, true, true, false, false, false, false, false, false]);
    assert.equal(w.dropped, 6);
    assert.equal(dropped, 6);
    assert.equal(w.pending, 3);
    for (let i = 0; i < 5 && w.pending > 0; i++) {
      out.release();
      await new Promise((r) => setImmediate(r));
    }
    out.release();
    assert.equal(w.pending, 0);
    assert.deepEqual(
      out.lines.map((l) => (parseEventLine(l.trim()) as { message: string }).message),
      ['m0', 'm1', 'm2', 'm3'],
    );
  });

  it('counts every event as dropped once the consumer is gone', () => {
    const out = new Writable({ write: (_c, _e, cb) => cb(new Error('EPIPE')) });
    const w = new EventWriter(out, { limit: 100 });
    w.write(ev(0));
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        w.write(ev(1));
        w.write(ev(2));
        assert.ok(w.dropped >= 2, `dropped ${w.dropped}`);
        resolve();
      }),
    );
  });
});

describe('guard: NFLOG prefixes and origins', () => {
  const ir = irOfFile('examples/proxmox-dual-bridge.yaml')!;
  const index = new OriginIndex(ir, 'pve');
  const pkt = (src: string, dst: string, port: number) => ({ src: parseIPv4(src)!, dst: parseIPv4(dst)!, flow: { proto: 'tcp' as const, port } });

  it('makes short prefixes that parse back, and refuses other text', () => {
    const p = nflogPrefix('a-very-long-host-name-that-goes-on-and-on:forward', 12);
    assert.ok(p.length <= 64, p);
    assert.deepEqual(parseNflogPrefix(p), { pointId: p.split(' ')[1], ref: 12 });
    assert.deepEqual(parseNflogPrefix(nflogPrefix('pve:input', 'policy'))?.ref, 'policy');
    for (const bad of ['cordon drop pve:forward ', 'cordon 1234567 p', 'cordon 12345678 x', '']) assert.equal(parseNflogPrefix(bad), undefined, bad);
  });

  it("maps a set-lookup run back to the rule the packet hit, in the user's words", () => {
    // pve:output rules 2 and 3 (policy[0] and policy[6]) are one run with one prefix, r2.
    const prefix = nflogPrefix('pve:output', 2);
    const a = index.lookup(prefix, pkt('10.8.0.1', '192.168.100.20', 11434));
    assert.equal(a?.path, 'policy[0]');
    assert.equal(a?.text, 'deny wg0 → vmbr1');
    // The line of that rule in the example, found by its text (the example grows above it).
    const denyLine =
      readFileSync('examples/proxmox-dual-bridge.yaml', 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('deny: { from: wg0, to: vmbr1')) + 1;
    assert.ok(denyLine > 0, 'the example still has the rule');
    assert.equal(a?.line, denyLine);
    const b = index.lookup(prefix, pkt('192.168.100.1', '10.0.0.10', 22));
    assert.equal(b?.path, 'policy[6]');
    assert.equal(b?.kind, 'rule');
    assert.equal(b?.rule?.id, 'pve:output#3');
  });

  it("maps the chain default to the default's origin, and ignores prefixes of other rule sets", () => {
    const d = index.lookup(nflogPrefix('pve:forward', 'policy'), pkt('1.2.3.4', '5.6.7.8', 1));
    assert.equal(d?.kind, 'default');
    assert.equal(d?.text, ir.chains.get('pve:forward')!.policyOrigin.text);
    assert.equal(index.lookup(nflogPrefix('elsewhere:forward', 'policy'), pkt('1.2.3.4', '5.6.7.8', 1)), undefined);
    assert.equal(index.lookup(nflogPrefix('pve:output', 999), pkt('1.2.3.4', '5.6.7.8', 1)), undefined);
  });

  it('classes destinations without raw addresses: guest, host, lan, internet', () => {
    const cls = (a: string) => destClass(ir, parseIPv4(a)!);
    assert.deepEqual(['192.168.100.20', '10.0.0.1', '192.168.5.5', '198.51.100.7'].map(cls), ['guest', 'host', 'lan', 'internet']);
  });
});

describe('guard: drift comparison', () => {
  const t = 'table inet cordon_x {\n\tchain output {\n\t\ttype filter hook output priority 0; policy drop;\n\t\tcounter drop\n\t}\n}\n';
  const expected = new Map([['inet cordon_x', t]]);

  it('finds nothing when the tables are the same', () => {
    assert.deepEqual(compareTables(expected, new Map(expected)), { tables: [], differences: [] });
  });

  it('names an added rule, a removed rule, a table gone, a reorder and an extra cordon table', () => {
    const added = t.replace('\t\tcounter drop', '\t\taccept\n\t\tcounter drop');
    assert.deepEqual(compareTables(expected, new Map([['inet cordon_x', added]])).differences, ['inet cordon_x: + accept']);
    const flushed = t.replace('\t\tcounter drop\n', '');
    assert.deepEqual(compareTables(expected, new Map([['inet cordon_x', flushed]])).differences, ['inet cordon_x: - counter drop']);
    assert.deepEqual(compareTables(expected, new Map()).differences, ['table inet cordon_x is gone']);
    const two = t.replace('\t\tcounter drop', '\t\tip daddr 1.2.3.4 drop\n\t\tcounter drop');
    const swapped = t.replace('\t\tcounter drop', '\t\tcounter drop\n\t\tip daddr 1.2.3.4 drop');
    assert.deepEqual(compareTables(new Map([['inet cordon_x', two]]), new Map([['inet cordon_x', swapped]])).differences, ['inet cordon_x: rules reordered']);
    const extra = compareTables(expected, new Map([...expected, ['inet cordon_y', 'table inet cordon_y {\n}\n']]));
    assert.deepEqual(extra, { tables: ['inet cordon_y'], differences: ['table inet cordon_y is not in the loaded rule set'] });
  });
});

describe('guard: foreign tables', () => {
  it('lists the base chains of a table as nft prints them, and none for a table of regular chains', () => {
    const t = [
      'table inet docker {',
      '\tchain fwd {',
      '\t\ttype filter hook forward priority -10; policy accept;',
      '\t}',
      '\tchain pre {',
      '\t\ttype nat hook prerouting priority dstnat; policy accept;',
      '\t}',
      '\tchain helper {',
      '\t\tcounter',
      '\t}',
      '}',
    ].join('\n');
    assert.deepEqual(baseChains(t), ['fwd (filter hook forward priority -10, policy accept)', 'pre (nat hook prerouting priority dstnat, policy accept)']);
    assert.deepEqual(baseChains('table ip x {\n\tchain helper {\n\t\tcounter\n\t}\n}'), []);
  });
});

describe('guard: ulogd', () => {
  it('parses a JSON line of ulogd2 into a record (as ulogd 2.0.8 writes it)', () => {
    const line =
      '{"timestamp": "2026-12-04T03:44:26.526867", "dvc": "Netfilter", "raw.pktlen": 60, "oob.prefix": "cordon 174f6a82 p", "oob.time.sec": 1796355866, "oob.time.usec": 526867, "oob.hook": 3, "oob.family": 2, "ip.protocol": 6, "src_port": 44696, "dest_port": 9, "oob.in": "", "oob.out": "lo", "src_ip": "127.0.0.1", "dest_ip": "127.0.0.2"}';
    assert.deepEqual(parseUlogdLine(line), {
      prefix: 'cordon 174f6a82 p',
      timeMs: 1796355866526,
      src: '127.0.0.1',
      dst: '127.0.0.2',
      proto: 6,
      sport: 44696,
      dport: 9,
      iif: undefined,
      oif: 'lo',
    });
    assert.equal(parseUlogdLine('{"oob.prefix": "x", "oob.family": 7}'), undefined);
    assert.equal(parseUlogdLine('garbage'), undefined);
  });

  it("configures one NFLOG group into JSON on the guard's socket", () => {
    const c = ulogdConfig({ group: NFLOG_GROUP, socket: '/tmp/x/events.sock', logfile: '/tmp/x/ulogd.log' });
    assert.match(c, new RegExp(`^group=${NFLOG_GROUP}$`, 'm'));
    assert.match(c, /^mode="unix"$/m);
    assert.match(c, /^file="\/tmp\/x\/events.sock"$/m);
    assert.match(c, /^stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,json1:JSON$/m);
  });

  it(
    "asks for every packet at once with a key the installed NFLOG plugin knows (a bare 'qthreshold' was silently ignored: events came in 1 s batches)",
    { skip: existsSync(NFLOG_PLUGIN) ? undefined : 'needs ulogd2 (its NFLOG plugin)' },
    () => {
      const c = ulogdConfig({ group: NFLOG_GROUP, socket: '/tmp/x/events.sock', logfile: '/tmp/x/ulogd.log' });
      assert.match(c, /^netlink_qthreshold=1$/m);
      // Every key of the NFLOG section is one of the plugin's own config keys (they are strings in the .so).
      const section = /\[log1\]\n([\s\S]*?)\n\n/.exec(c)![1]!;
      const known = readFileSync(NFLOG_PLUGIN).toString('latin1');
      for (const line of section.split('\n')) {
        const k = line.split('=')[0]!;
        assert.ok(known.includes(`\0${k}\0`), `ulogd's NFLOG plugin has no config key '${k}'`);
      }
    },
  );
});

describe('guard: metrics', () => {
  it('parses listen addresses and refuses the rest', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    for (const bad of ['', 'host:port', '127.0.0.1:70000', ':80']) assert.equal(parseListen(bad), undefined, bad);
  });

  it('keeps the protocol label bounded and starts a watched host at zero', async () => {
    const m = new GuardMetrics();
    m.watch('h');
    m.countBlocked('h', '47', 'internet');
    m.countBlocked('h', 'tcp', 'lan');
    const text = await m.text();
    assert.match(text, /agent_network_blocked_connections_total\{host="h",proto="other",class="internet"\} 1/);
    assert.match(text, /agent_network_blocked_connections_total\{host="h",proto="tcp",class="lan"\} 1/);
    assert.match(text, /cordon_ruleset_tamper_total\{host="h"\} 0/);
    assert.match(text, /cordon_ruleset_drift\{host="h"\} 0/);
    assert.match(text, /cordon_guard_up\{host="h"\} 1/);
    assert.doesNotMatch(text, /proto="47"/);
  });
});

describe('guard: kill switch rule set', () => {
  const pve = irOfFile('examples/proxmox-dual-bridge.yaml')!;
  const vpn = irOfFile('examples/vpn-only-vm.yaml')!;
  const nftCheck = (text: string) => spawnSync('unshare', ['--net', 'nft', '-c', '-f', '-'], { input: text, encoding: 'utf8' });
  const canCheck = process.getuid?.() === 0 && !spawnSync('nft', ['--version']).error;

  it('drops forwarding on a hypervisor and leaves its own input and output alone (no lock-out)', () => {
    const t = killswitchRuleset(pve, 'pve');
    assert.match(t, /chain forward \{\n\t\ttype filter hook forward priority -300; policy drop;/);
    assert.doesNotMatch(t, /hook (input|output)/);
  });

  it("drops a guest's own input and output except loopback", () => {
    const t = killswitchRuleset(vpn, 'workload-vm');
    assert.match(t, /hook output priority -300; policy drop;\n\t\toifname "lo" accept/);
    assert.match(t, /hook input priority -300; policy drop;\n\t\tiifname "lo" accept/);
    assert.doesNotMatch(t, /hook forward/);
  });

  it('is a rule set nft accepts', { skip: canCheck ? undefined : 'needs root and nft' }, () => {
    for (const t of [killswitchRuleset(pve, 'pve'), killswitchRuleset(vpn, 'workload-vm')]) {
      const r = nftCheck(t);
      assert.equal(r.status, 0, r.stderr);
    }
  });
});

describe('guard: layering', () => {
  it('src/guard imports no shell (cli, server) and no other runtime but apply (re-loads) and system', () => {
    const dir = new URL('../src/guard/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length >= 8, files.join(', '));
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      for (const m of text.matchAll(/from '(\.\.\/[^']+)'/g)) {
        assert.doesNotMatch(m[1]!, /^\.\.\/(cli|server|lab|sandbox)\//, `${f} imports ${m[1]}`);
      }
    }
  });
});

describe('guard: unlogged drops', () => {
  it("sums the drop and reject counters of cordon's tables, not invalid-state drops nor foreign tables", () => {
    const listing = [
      'table inet cordon_a_output {',
      '\tchain output {',
      '\t\tct state invalid counter packets 7 bytes 1 drop',
      '\t\tip daddr @x counter packets 3 bytes 180 drop',
      '\t\tmeta l4proto tcp counter packets 2 bytes 120 reject with tcp reset',
      '\t\tcounter packets 10 bytes 600 drop',
      '\t\tcounter packets 99 bytes 600 accept',
      '\t}',
      '}',
      'table inet docker {',
      '\tchain x {',
      '\t\tcounter packets 50 bytes 1 drop',
      '\t}',
      '}',
      '',
    ].join('\n');
    assert.equal(droppedPackets(listing), 15);
  });

  it('takes the first reading as the baseline, counts drops beyond the logged ones, and keeps counting across re-loads', () => {
    const t = new UnloggedTally();
    assert.equal(t.update(40, 0), 0, 'drops from before the guard are not its to count');
    assert.equal(t.update(140, 100), 0, 'all logged');
    assert.equal(t.update(440, 200), 200, '300 more drops, 100 logged');
    t.reloaded(210); // the guard re-loaded: counters at zero, 210 logged so far
    assert.equal(t.update(5, 215), 0);
    assert.equal(t.update(25, 225), 10, '20 drops since the re-load, 10 logged since it');
    // A re-load the guard did not make: the drops since it, logged or not, count as lost once (the documented overcount).
    assert.equal(t.update(3, 226), 3);
    assert.equal(t.update(13, 230), 6, '10 more drops, 4 logged');
    assert.equal(t.total, 219);
  });
});

describe('guard: the fast re-load transaction', () => {
  const ruleset = 'table inet cordon_a {}\ndelete table inet cordon_a\ntable inet cordon_a {\n}\n';

  it('is the rule set alone when the tamper added no cordon table', () => {
    assert.equal(reloadTransaction(ruleset, []), ruleset);
  });

  it('removes cordon tables the tamper added in the same transaction, before the rule set', () => {
    const tx = reloadTransaction(ruleset, [{ family: 'inet', name: 'cordon_x' }]);
    assert.ok(tx.endsWith(ruleset));
    assert.match(tx, /^table inet cordon_x \{\}\ndelete table inet cordon_x\n/);
  });

  it('carries the injected fault table only when asked (test-only)', () => {
    assert.doesNotMatch(reloadTransaction(ruleset, []), /cordon_injected_fault/);
    assert.match(reloadTransaction(ruleset, [], true), /table inet cordon_injected_fault/);
  });
});

describe('guard: accepted connections and per-host traffic', () => {
  it('parses conntrack -E NEW lines (original direction) and nothing else', () => {
    assert.deepEqual(
      parseConntrackLine(
        '    [NEW] tcp      6 120 SYN_SENT src=192.168.64.2 dst=192.168.64.1 sport=40000 dport=8080 [UNREPLIED] src=192.168.64.1 dst=192.168.64.2 sport=8080 dport=40000',
      ),
      { proto: 'tcp', src: '192.168.64.2', dst: '192.168.64.1', dport: 8080 },
    );
    assert.deepEqual(
      parseConntrackLine(' [NEW] icmp     1 30 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=7'),
      {
        proto: 'icmp',
        src: '10.0.0.1',
        dst: '10.0.0.2',
        dport: undefined,
      },
    );
    assert.equal(parseConntrackLine(' [DESTROY] udp 17 src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2'), undefined);
    assert.equal(parseConntrackLine('conntrack v1.4.7 (conntrack-tools): 3 flow events have been shown.'), undefined);
    assert.equal(parseConntrackLine(' [NEW] tcp 6 120 SYN_SENT src=::1 dst=::1 sport=1 dport=2'), undefined, 'IPv6 is not modelled');
  });

  it("finds a guest's host-side ports on the bridge owner, and a self-enforcing guest's own interfaces (not tunnels)", () => {
    const pve = irOfFile('examples/proxmox-dual-bridge.yaml');
    assert.deepEqual(trafficPorts(pve!, 'pve'), [
      { host: 'agentfarm', ifname: 'tap101i0', hostSide: true },
      { host: 'agentfarm', ifname: 'tap101i1', hostSide: true },
      { host: 'ollama', ifname: 'tap102i0', hostSide: true },
    ]);
    assert.deepEqual(trafficPorts(irOfFile('examples/vpn-only-vm.yaml')!, 'workload-vm'), [{ host: 'workload-vm', ifname: 'eth0', hostSide: false }]);
  });

  it("reads ip -s -j link counters, swaps a host-side port's directions, and counts growth (a reset counts whole)", () => {
    const json = (rx: number, tx: number): string =>
      JSON.stringify([
        { ifname: 'tap1', stats64: { rx: { bytes: rx, packets: rx / 100 }, tx: { bytes: tx, packets: tx / 100 } } },
        { ifname: 'eth0', stats64: { rx: { bytes: 5, packets: 1 }, tx: { bytes: 7, packets: 1 } } },
        { ifname: 'nostats' },
      ]);
    const ports = [
      { host: 'g', ifname: 'tap1', hostSide: true },
      { host: 'self', ifname: 'eth0', hostSide: false },
      { host: 'gone', ifname: 'tap9', hostSide: true },
    ];
    const t = new TrafficTally();
    const first = t.update(ports, parseLinkStats(json(1000, 300)));
    assert.deepEqual(first.get('g'), { rxBytes: 300, txBytes: 1000, rxPackets: 3, txPackets: 10 }, 'the port received what the guest sent');
    assert.deepEqual(first.get('self'), { rxBytes: 5, txBytes: 7, rxPackets: 1, txPackets: 1 });
    assert.equal(first.has('gone'), false, 'a port not in the namespace is skipped');
    assert.deepEqual(t.update(ports, parseLinkStats(json(1500, 400))).get('g'), { rxBytes: 100, txBytes: 500, rxPackets: 1, txPackets: 5 });
    assert.deepEqual(t.update(ports, parseLinkStats(json(200, 100))).get('g'), { rxBytes: 100, txBytes: 200, rxPackets: 1, txPackets: 2 }, 'port made anew');
    assert.throws(() => parseLinkStats('{}'), /no list/);
  });
});

describe('guard: VPN health (pure parts)', () => {
  const ir = irOfFile('examples/vpn-only-vm.yaml')!;

  it("names a member's one peer by the tunnel's server, a server's peers by the members their allowed IPs cover", () => {
    const [wl] = vpnTunnels(ir, 'workload-vm');
    assert.equal(wl!.tunnel, 'wg0');
    assert.equal(wl!.ifname, 'wg0');
    assert.deepEqual(expectedPeers(wl!, 'workload-vm'), ['vpn-server']);
    assert.equal(peerName(wl!, ['0.0.0.0/0']), 'vpn-server', '0.0.0.0/0 covers everyone: the server it is');
    const [srv] = vpnTunnels(ir, 'vpn-server');
    assert.deepEqual(expectedPeers(srv!, 'vpn-server'), ['data-server', 'workload-vm']);
    assert.equal(peerName(srv!, ['10.99.0.2/32']), 'workload-vm');
    assert.equal(peerName(srv!, ['10.99.0.4/31']), 'data-server');
    assert.equal(peerName(srv!, ['10.99.0.77/32']), 'unknown', 'a peer the spec does not declare');
    assert.equal(vpnTunnels(ir, 'mac-host').length, 0, 'not on a tunnel: nothing to watch');
    assert.equal(vpnTunnels(ir, 'workload-vm', new Map([['wg0', 'cl0e0bw1']]))[0]!.ifname, 'cl0e0bw1');
  });

  it('reads wg show dump past the interface line and the keys, never keeping them', () => {
    const dump = [
      'PRIVKEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\tPUBKEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\t51820\toff',
      'PEERKEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\t(none)\t203.0.113.1:51820\t0.0.0.0/0\t1796378000\t92\t148\t25',
      'PEER2xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\t(none)\t(none)\t10.99.0.2/32,10.99.0.9/32\t0\t0\t0\toff',
    ].join('\n');
    const peers = parseWgDump(dump);
    assert.deepEqual(peers, [
      { allowedIps: ['0.0.0.0/0'], latestHandshake: 1796378000 },
      { allowedIps: ['10.99.0.2/32', '10.99.0.9/32'], latestHandshake: 0 },
    ]);
    assert.doesNotMatch(JSON.stringify(peers), /KEY|PEER/);
    assert.equal(VpnHealth.age(peers[0]!, 1796378010), 10);
    assert.equal(VpnHealth.age(peers[1]!, 1796378010), Infinity);
  });

  it('reports down past the threshold and up again, each change once; a first reading reports only down', () => {
    const h = new VpnHealth(180);
    assert.equal(h.update('wg0', 'a', 5), undefined, 'up at the start: nothing to say');
    assert.equal(h.update('wg0', 'a', 180), undefined, 'at the threshold: still up');
    assert.deepEqual(h.update('wg0', 'a', 181), { tunnel: 'wg0', peer: 'a', up: false, ageSeconds: 181 });
    assert.equal(h.update('wg0', 'a', 300), undefined, 'still down: once');
    assert.deepEqual(h.update('wg0', 'a', 2), { tunnel: 'wg0', peer: 'a', up: true, ageSeconds: 2 });
    assert.deepEqual(h.update('wg0', 'b', Infinity), { tunnel: 'wg0', peer: 'b', up: false, ageSeconds: null }, 'never: down at once');
  });

  it('formats vpn events for people', () => {
    const e: GuardEvent = {
      v: 1,
      time: '2026-12-04T10:00:00.000Z',
      type: 'vpn-down',
      host: 'workload-vm',
      netns: null,
      tunnel: 'wg0',
      peer: 'vpn-server',
      ageSeconds: null,
      message: 'm',
    };
    assert.equal(parseEventLine(eventLine(e))?.type, 'vpn-down');
    assert.equal(formatEvent(e), '2026-12-04T10:00:00.000Z workload-vm vpn-down wg0 peer vpn-server, last handshake never: m');
  });
});

describe('guard: what it saw during an attack (summary)', () => {
  const blockedAt = (ms: number, point: string, kind: 'rule' | 'default', path: string): GuardEvent => ({
    v: 1,
    time: new Date(ms).toISOString(),
    type: 'blocked',
    host: 'pve',
    netns: null,
    src: '10.0.0.10',
    dst: '192.168.100.20',
    proto: 'tcp',
    port: 22,
    sport: 40000,
    iif: null,
    oif: null,
    class: 'guest',
    origin: { point, kind, text: `${path} text`, file: '/x/spec.yaml', line: 7, path },
  });

  it('counts blocked events per point in the window only, names the most frequent origin, and lists drift', () => {
    const events: GuardEvent[] = [
      blockedAt(500, 'pve:forward', 'default', 'hosts.pve'),
      blockedAt(1000, 'pve:forward', 'default', 'hosts.pve'),
      blockedAt(1100, 'pve:forward', 'default', 'hosts.pve'),
      blockedAt(1200, 'pve:forward', 'rule', 'policy[3]'),
      blockedAt(1300, 'pve:input', 'rule', 'policy[1]'),
      {
        v: 1,
        time: new Date(1400).toISOString(),
        type: 'drift',
        host: 'agentfarm',
        netns: null,
        tables: ['inet x'],
        differences: ['table inet x is gone'],
        action: 'alert',
      },
      blockedAt(9000, 'pve:input', 'rule', 'policy[1]'),
    ];
    const lines = summarizeEvents(events, 1000, 2000);
    assert.match(lines[0]!, /^guard: 4 blocked attempts logged/);
    assert.equal(lines[1], '  pve:forward: 3, most by chain default: "hosts.pve text" (spec.yaml:7) (2; 1 other rule)');
    assert.equal(lines[2], '  pve:input: 1, most by policy[1]: "policy[1] text" (spec.yaml:7)');
    assert.equal(lines[3], 'guard: drift on agentfarm (alert): table inet x is gone');
    assert.deepEqual(summarizeEvents(events, 3000, 4000), []);
  });
});
