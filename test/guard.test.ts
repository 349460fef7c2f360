/**
 * The guard live, in throw-away namespaces (never the machine's own): the vpn-only example's
 * workload-vm rule set applied in one namespace, a veth to a second namespace standing in for the
 * Mac (192.168.64.1, with a listener the rules must keep the workload from reaching). Forbidden
 * attempts become `blocked` events with the origin `explain` prints and counted metrics that
 * `promtool check metrics` accepts; an added accept rule and a flushed cordon table are detected
 * and re-applied, and the probe is blocked again afterwards.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { applyRuleset } from '../src/apply/apply.js';
import { netnsTarget } from '../src/apply/target.js';
import { compareTables, expectedTables, loadedTables } from '../src/guard/drift.js';
import type { BlockedEvent, GuardEvent } from '../src/guard/events.js';
import { startGuard, type Guard } from '../src/guard/guard.js';
import { GuardMetrics, serveMetrics, type MetricsServer } from '../src/guard/metrics.js';
import { EventWriter } from '../src/guard/writer.js';
import { tableName } from '../src/model/names.js';
import { checkMetrics, NO_PROMTOOL, PROMTOOL } from './support/promtool.js';
import { skipOrFail } from './support/require-env.js';
import { GW, guardSkip as skip, HOST, isType, PORT, renderedFor, Testbed, until, vpnIr } from './support/guard-bed.js';

describe('guard: blocked attempts, metrics, drift and re-apply (live, in namespaces)', { skip }, () => {
  let bed: Testbed;
  let guard: Guard | undefined;
  let server: MetricsServer | undefined;
  let state: string;
  const events: GuardEvent[] = [];
  const metrics = new GuardMetrics();
  const ir = vpnIr();
  const ruleset = renderedFor(ir, HOST);
  const output = ir.chains.get(`${HOST}:output`)!;

  const scrape = async (): Promise<string> => (await fetch(`http://${server!.address}/metrics`)).text();
  const blocked = (dst: string, proto: string, port: number | null): BlockedEvent | undefined =>
    events.find((e): e is BlockedEvent => e.type === 'blocked' && e.dst === dst && e.proto === proto && e.port === port);

  before(async () => {
    bed = new Testbed();
    state = mkdtempSync(join(tmpdir(), 'cordon-guard-state-'));
    bed.startListener();
    // The probe must be able to pass before the rules are loaded, or its failing later proves nothing.
    await until('the listener to answer', () => (bed.probe() ? true : undefined));
    const out = await applyRuleset({ target: netnsTarget(bed.ws), host: HOST, ruleset, stateRoot: state, ir, say: () => undefined });
    assert.equal(out.status, 'applied', out.message);
    const sink = new PassThrough();
    sink.resume();
    const writer = new EventWriter(sink, { onEvent: (e) => events.push(e), onDrop: (n) => metrics.eventsDropped.inc(n) });
    server = await serveMetrics(metrics, '127.0.0.1', 0);
    guard = await startGuard({
      ir,
      host: HOST,
      ruleset,
      target: netnsTarget(bed.ws),
      events: writer,
      metrics,
      onDrift: 'reapply',
      stateRoot: state,
      recheckMs: 60_000,
    });
  });

  after(async () => {
    await guard?.stop();
    await server?.close();
    bed?.cleanup();
    rmSync(state, { recursive: true, force: true });
  });

  it('starts with the loaded tables matching the rule set', () => {
    const started = events.find(isType('guard-started'));
    assert.ok(started, 'a guard-started event');
    assert.match(started.message, /match the rule set/);
    assert.match(started.message, /re-loads: the rule set apply checked in .+, in one nft -f/, 'apply loaded this text: re-loads take the fast path');
    assert.equal(bed.probe(), false, 'the rules keep the workload from the Mac');
  });

  it('turns forbidden tcp, udp, dns and icmp attempts into blocked events with the origin and counts them', async () => {
    const t0 = Date.now();
    bed.attempt('tcp', GW, PORT);
    const tcp = await until('a blocked tcp event', () => blocked(GW, 'tcp', PORT));
    const latency = Date.now() - t0;
    assert.ok(latency < 5000, `event within a generous bound (took ${latency} ms)`);
    assert.equal(tcp.src, '192.168.64.2');
    assert.equal(tcp.oif, 'eth0');
    assert.equal(tcp.class, 'host', '192.168.64.1 is mac-host, a host');
    // Nothing in the spec allows it: the output chain's default dropped it, and the event says so in the spec's words.
    assert.deepEqual(
      { point: tcp.origin.point, kind: tcp.origin.kind, text: tcp.origin.text, line: tcp.origin.line },
      { point: `${HOST}:output`, kind: 'default', text: output.policyOrigin.text, line: output.policyOrigin.line },
    );
    bed.attempt('udp', '198.51.100.7', 5353);
    const udp = await until('a blocked udp event', () => blocked('198.51.100.7', 'udp', 5353));
    assert.equal(udp.class, 'internet');
    // DNS to a resolver the spec does not allow (the workload may resolve only through the tunnel).
    bed.attempt('udp', GW, 53);
    const dns = await until('a blocked dns event', () => blocked(GW, 'udp', 53));
    assert.equal(dns.origin.kind, 'default');
    bed.attempt('icmp', '192.168.1.50');
    const icmp = await until('a blocked icmp event', () => blocked('192.168.1.50', 'icmp', null));
    assert.equal(icmp.class, 'host', 'lan-device is a declared host');
    const text = await scrape();
    assert.match(text, /agent_network_blocked_connections_total\{host="workload-vm",proto="tcp",class="host"\} [1-9]/);
    assert.match(text, /agent_network_blocked_connections_total\{host="workload-vm",proto="udp",class="internet"\} [1-9]/);
    assert.match(text, /agent_network_blocked_connections_total\{host="workload-vm",proto="icmp",class="host"\} [1-9]/);
    assert.match(text, /cordon_guard_up\{host="workload-vm"\} 1/);
  });

  it('counts an accepted connection (conntrack) as an attempt beside the blocked ones, and none as blocked', async () => {
    const series = /^agent_network_connection_attempts_total\{host="workload-vm",proto="udp",class="host"\} (\d+)$/m;
    const value = (text: string): number => Number(series.exec(text)?.[1] ?? 0);
    const before = value(await scrape());
    const n = events.length;
    // The one thing the workload may send outside the tunnel: wg0's own transport to its server (vpn-server, a declared host).
    bed.attempt('udp', '203.0.113.1', 51820);
    let after = before;
    for (let i = 0; i < 300 && after <= before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = value(await scrape());
    }
    assert.ok(after > before, `attempts grew (${before} → ${after})`);
    assert.ok(!events.slice(n).some((e) => e.type === 'blocked' && e.port === 51820), 'allowed, so not a blocked event');
    assert.ok(guard!.pids.conntrack !== undefined, 'conntrack -E runs');
  });

  it("counts the workload's traffic from the kernel's interface counters (seed 001's names)", async () => {
    const series = (name: string, text: string): number => Number(new RegExp(`^${name}\\{host="workload-vm"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
    const t1 = await scrape();
    const tx1 = series('agent_vm_network_tx_packets_total', t1);
    const txb1 = series('agent_vm_network_tx_bytes_total', t1);
    assert.ok(tx1 > 0, 'earlier attempts went out through eth0');
    // Ten allowed datagrams out of eth0 (the tunnel transport): the counters grow by at least that.
    for (let i = 0; i < 10; i++) bed.attempt('udp', '203.0.113.1', 51820);
    const t2 = await scrape();
    assert.ok(series('agent_vm_network_tx_packets_total', t2) >= tx1 + 10, t2);
    assert.ok(series('agent_vm_network_tx_bytes_total', t2) >= txb1 + 10 * 29, 'each at least 29 bytes (IP + UDP + 1)');
    assert.ok(series('agent_vm_network_rx_packets_total', t2) >= 0);
    assert.ok(series('agent_vm_network_rx_bytes_total', t2) >= 0);
  });

  it('counts the drops the NFLOG rate limit kept from it (kernel counters minus logged)', async () => {
    const before = await guard!.countUnlogged();
    const n = events.length;
    // 300 udp packets at once: far beyond the NFLOG limit's burst of 100 (50/s after it).
    bed.pool.exec(bed.ws, ['bash', '-c', `for i in $(seq 300); do echo x 2>/dev/null > /dev/udp/${GW}/7000; done`]);
    await new Promise((r) => setTimeout(r, 500));
    const grew = (await guard!.countUnlogged()) - before;
    const logged = events.slice(n).filter((e) => e.type === 'blocked' && e.port === 7000).length;
    assert.ok(logged >= 50 && logged < 300, `the limit logged some, not all (${logged})`);
    assert.ok(Math.abs(grew + logged - 300) <= 5, `logged ${logged} + unlogged ${grew} ≈ 300 sent`);
    assert.match(await scrape(), /cordon_blocked_unlogged_total\{host="workload-vm"\} [1-9]/);
  });

  it('serves metrics that promtool check metrics accepts', async (t) => {
    if (!PROMTOOL) return skipOrFail(t, NO_PROMTOOL);
    const text = await scrape();
    const r = checkMetrics(PROMTOOL, text);
    assert.equal(r.code, 0, `promtool check metrics:\n${r.out}`);
    assert.equal(r.out.trim(), '', 'no lint finding either');
    for (const name of [
      'cordon_guard_up',
      'agent_network_blocked_connections_total',
      'cordon_ruleset_drift',
      'cordon_ruleset_tamper_total',
      'cordon_killswitch_engaged',
      'cordon_blocked_unlogged_total',
      'cordon_events_dropped_total',
      'agent_network_connection_attempts_total',
      'agent_vm_network_rx_bytes_total',
      'agent_vm_network_tx_bytes_total',
      'agent_vm_network_rx_packets_total',
      'agent_vm_network_tx_packets_total',
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  });

  it('detects an added accept rule, re-applies, and the probe is blocked again', async () => {
    const before = events.length;
    // (That such a rule opens the way is shown by the kill switch test, where it stays in place.)
    bed.nft('insert', 'rule', 'inet', tableName(`${HOST}:output`), 'output', 'accept');
    const drift = await until('a drift event', () => events.slice(before).find((e) => e.type === 'drift'));
    assert.ok(
      drift.differences.some((d) => /\+ accept$/.test(d)),
      drift.differences.join('\n'),
    );
    const re = await until('a reapplied event', () => events.slice(before).find((e) => e.type === 'reapplied'), 20_000);
    assert.equal(re.ok, true, re.message);
    assert.match(re.message, /re-loaded in one transaction/, 'the fast path, not a full apply');
    assert.equal(bed.probe(), false, 'blocked again after the re-apply');
    assert.deepEqual(compareTables(await expectedTables(ruleset), await loadedTables(netnsTarget(bed.ws))).differences, []);
    const text = await scrape();
    assert.match(text, /cordon_ruleset_tamper_total\{host="workload-vm"\} [1-9]/);
    assert.match(text, /cordon_ruleset_drift\{host="workload-vm"\} 0/);
  });

  it("reports a foreign table with a base chain that appears, once, as an alert (not cordon's to remove)", async () => {
    const before = events.length;
    const name = `gdforeign${process.pid}`;
    bed.nft('add', 'table', 'inet', name);
    bed.nft('add', 'chain', 'inet', name, 'early', '{ type filter hook output priority -10; policy accept; }');
    const ev = await until('a drift event for the foreign table', () =>
      events
        .slice(before)
        .filter(isType('drift'))
        .find((e) => e.tables.includes(`inet ${name}`)),
    );
    assert.equal(ev.action, 'alert');
    assert.match(
      ev.differences.join('\n'),
      /foreign table inet gdforeign\d+ appeared with base chains: early \(filter hook output priority (filter - 10|-10), policy accept\)/,
    );
    await guard!.check();
    bed.nft('delete', 'table', 'inet', name);
    await guard!.check();
    assert.equal(events.slice(before).filter((e) => e.type === 'drift').length, 1, 'reported once');
    assert.ok(!events.slice(before).some((e) => e.type === 'reapplied'), "nothing to re-apply: cordon's tables are unchanged");
  });

  it('restarts ulogd when it dies, and blocked attempts are logged again', async () => {
    const first = guard!.pids.ulogd!;
    process.kill(first, 'SIGKILL');
    const second = await until('a new ulogd', () => {
      const p = guard!.pids.ulogd;
      return p !== undefined && p !== first ? p : undefined;
    });
    assert.notEqual(second, first);
    const n = events.length;
    bed.attempt('udp', GW, 7100);
    await until('a blocked event through the new ulogd', () => events.slice(n).find((e) => e.type === 'blocked' && e.port === 7100));
  });

  it('detects a flushed cordon table, re-applies, and blocked attempts are logged again', async () => {
    const before = events.length;
    bed.nft('flush', 'table', 'inet', tableName(`${HOST}:output`));
    const drift = await until('a drift event', () => events.slice(before).find((e) => e.type === 'drift'));
    assert.ok(
      drift.differences.some((d) => /- counter drop$/.test(d)),
      drift.differences.join('\n'),
    );
    const re = await until('a reapplied event', () => events.slice(before).find((e) => e.type === 'reapplied'), 20_000);
    assert.equal(re.ok, true, re.message);
    assert.equal(bed.probe(), false, 'blocked again after the re-apply');
    const n = events.length;
    bed.attempt('tcp', GW, PORT);
    await until('a blocked event after the re-apply', () => events.slice(n).find((e) => e.type === 'blocked' && e.dst === GW));
  });
});
