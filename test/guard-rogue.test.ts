/**
 * Rogue connections (seed 004): what leaves a vpn-only host other than through its tunnel or as
 * the tunnel's own transport. The classification on its own (every vantage point: the guest
 * itself, the hypervisor in front of it, the tunnel server behind it), then live in throw-away
 * namespaces: the vpn-only example's workload rules loaded in one namespace, a second standing in
 * for the Mac. A forbidden attempt out of eth0 is a `rogue` event (blocked) with the interface; the
 * tunnel transport is not; once an accept rule is slipped in (the guard only alerts), the
 * connection that gets out is a `rogue` event (allowed), and both are counted.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eventLine, parseEventLine, type GuardEvent, type RogueEvent } from '../src/guard/events.js';
import { formatEvent } from '../src/guard/format.js';
import { summarizeEvents } from '../src/guard/summary.js';
import type { Guard } from '../src/guard/guard.js';
import { GuardMetrics } from '../src/guard/metrics.js';
import { RogueDetector, type Sighting } from '../src/guard/rogue.js';
import { tableName } from '../src/model/names.js';
import { parseIPv4 } from '../src/util/ip.js';
import { GW, guardSkip, HOST, PORT, renderedFor, Testbed, until, vpnIr, applyAndGuard } from './support/guard-bed.js';

const ip = (s: string): number => parseIPv4(s)!;
const see = (src: string, dst: string, proto: string, dport?: number, ifs: { iif?: string; oif?: string } = {}): Sighting => ({
  src: ip(src),
  dst: ip(dst),
  proto,
  dport,
  ...ifs,
});

describe('rogue connections: what counts', () => {
  const d = new RogueDetector(vpnIr(), ['g2wg0x']);

  it('watches the spec’s vpn-only host', () => assert.equal(d.watching, true));

  const cases: { name: string; s: Sighting; want: ReturnType<RogueDetector['classify']> }[] = [
    {
      name: 'tcp from the workload out of eth0 (the guest itself sees it)',
      s: see('192.168.64.2', '192.168.64.1', 'tcp', 8080, { oif: 'eth0' }),
      want: { from: 'workload-vm', network: 'vz-nat', iface: 'eth0' },
    },
    {
      name: 'udp to a LAN device, forwarded by the Mac (iif the NAT bridge)',
      s: see('192.168.64.2', '192.168.1.50', 'udp', 53, { iif: 'bridge100', oif: 'en0' }),
      want: { from: 'workload-vm', network: 'vz-nat', iface: 'en0' },
    },
    {
      name: 'the tunnel transport (udp to the endpoint and listen port)',
      s: see('192.168.64.2', '203.0.113.1', 'udp', 51820, { oif: 'eth0' }),
      want: undefined,
    },
    {
      name: 'udp to the endpoint on another port',
      s: see('192.168.64.2', '203.0.113.1', 'udp', 51821, { oif: 'eth0' }),
      want: { from: 'workload-vm', network: 'vz-nat', iface: 'eth0' },
    },
    {
      name: 'tcp to the endpoint on the listen port',
      s: see('192.168.64.2', '203.0.113.1', 'tcp', 51820),
      want: { from: 'workload-vm', network: 'vz-nat', iface: null },
    },
    { name: 'into the tunnel (oif wg0)', s: see('10.99.0.2', '198.51.100.7', 'tcp', 22, { oif: 'wg0' }), want: undefined },
    { name: "into the tunnel under the lab's wireguard-go name", s: see('10.99.0.2', '198.51.100.7', 'tcp', 22, { oif: 'g2wg0x' }), want: undefined },
    {
      name: 'the tunnel address routed around the tunnel (oif eth0)',
      s: see('10.99.0.2', '198.51.100.7', 'tcp', 443, { oif: 'eth0' }),
      want: { from: 'workload-vm', network: 'wg0', iface: 'eth0' },
    },
    {
      name: 'the tunnel server forwarding its member (iif wg0)',
      s: see('10.99.0.2', '198.51.100.7', 'tcp', 443, { iif: 'wg0', oif: 'eth9' }),
      want: undefined,
    },
    { name: 'a connection from the tunnel address (conntrack: no interfaces)', s: see('10.99.0.2', '10.99.0.5', 'tcp', 80), want: undefined },
    {
      name: 'a connection from eth0’s address (conntrack: no interfaces)',
      s: see('192.168.64.2', '192.168.1.50', 'tcp', 22),
      want: { from: 'workload-vm', network: 'vz-nat', iface: null },
    },
    { name: 'loopback', s: see('192.168.64.2', '127.0.0.1', 'tcp', 80), want: undefined },
    { name: 'a host that is not vpn-only', s: see('192.168.64.1', '192.168.1.50', 'tcp', 22, { oif: 'en0' }), want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(d.classify(c.s), c.want));

  it('the event round-trips through the schema and reads as one line', () => {
    const e: GuardEvent = {
      v: 1,
      time: '2026-12-04T10:00:00.000Z',
      type: 'rogue',
      host: 'workload-vm',
      netns: null,
      from: 'workload-vm',
      network: 'vz-nat',
      src: '192.168.64.2',
      dst: '192.168.1.50',
      proto: 'tcp',
      port: 22,
      iface: null,
      verdict: 'allowed',
    };
    assert.deepEqual(parseEventLine(eventLine(e)), e);
    assert.equal(
      formatEvent(e),
      '2026-12-04T10:00:00.000Z workload-vm rogue LEAKED: workload-vm sent tcp 192.168.64.2 → 192.168.1.50:22 outside its tunnel (interface unknown, network vz-nat)',
    );
    assert.throws(() => eventLine({ ...e, verdict: 'maybe' } as unknown as GuardEvent), /schema/);
  });
});

describe('rogue connections: in the summary lab attack prints', () => {
  it('one line per vpn-only host and verdict, leaks first by name order, anomalies each', () => {
    const t = '2026-12-04T10:00:00.000Z';
    const r = (verdict: 'blocked' | 'allowed', port: number): GuardEvent => ({
      v: 1,
      time: t,
      type: 'rogue',
      host: 'workload-vm',
      netns: null,
      from: 'workload-vm',
      network: 'vz-nat',
      src: '192.168.64.2',
      dst: '192.168.64.1',
      proto: 'tcp',
      port,
      iface: 'eth0',
      verdict,
    });
    const anomaly: GuardEvent = {
      v: 1,
      time: t,
      type: 'anomaly',
      host: 'workload-vm',
      netns: null,
      subject: 'workload-vm',
      kind: 'blocked',
      direction: 'up',
      ratePerMinute: 600,
      baselinePerMinute: null,
      deviationPerMinute: null,
      threshold: 60,
      reason: 'threshold',
    };
    const at = Date.parse(t);
    assert.deepEqual(summarizeEvents([r('blocked', 22), r('blocked', 80), r('allowed', 8080), anomaly], at - 1, at + 1), [
      'guard: 1 rogue connection from workload-vm got out around its tunnel (LEAKED)',
      'guard: 2 rogue attempts from workload-vm around its tunnel, blocked',
      'guard: anomaly on workload-vm: 600 blocked attempts a minute (threshold)',
    ]);
    assert.deepEqual(summarizeEvents([r('blocked', 22)], at + 1, at + 2), [], 'outside the window');
  });
});

describe('rogue connections: live, in namespaces', { skip: guardSkip }, () => {
  it('reports a blocked attempt out of eth0 and a leak after an accept rule is slipped in, not the transport; counts both', async () => {
    const bed = new Testbed();
    const state = mkdtempSync(join(tmpdir(), 'cordon-g2-rogue-'));
    const events: GuardEvent[] = [];
    const metrics = new GuardMetrics();
    let guard: Guard | undefined;
    try {
      const ir = vpnIr();
      const ruleset = renderedFor(ir, HOST);
      bed.startListener();
      await until('the listener to answer', () => (bed.probe() ? true : undefined));
      guard = await applyAndGuard(bed, { ir, ruleset, state, events, metrics }, { onDrift: 'alert', recheckMs: 60_000 });
      const rogue = (verdict: string, port: number): RogueEvent | undefined =>
        events.find((e): e is RogueEvent => e.type === 'rogue' && e.verdict === verdict && e.port === port);
      const count = async (verdict: string): Promise<number> =>
        Number(new RegExp(`^cordon_rogue_connections_total\\{host="workload-vm",verdict="${verdict}"\\} (\\d+)$`, 'm').exec(await metrics.text())?.[1] ?? -1);
      assert.equal(await count('blocked'), 0, 'the series start at zero (so increase() sees the first one)');

      bed.attempt('tcp', GW, PORT);
      const blocked = await until('a rogue (blocked) event', () => rogue('blocked', PORT));
      assert.deepEqual(
        { from: blocked.from, network: blocked.network, src: blocked.src, dst: blocked.dst, proto: blocked.proto, iface: blocked.iface },
        { from: 'workload-vm', network: 'vz-nat', src: '192.168.64.2', dst: GW, proto: 'tcp', iface: 'eth0' },
      );
      assert.ok(
        events.some((e) => e.type === 'blocked' && e.port === PORT),
        'also a blocked event, with its origin',
      );
      assert.ok((await count('blocked')) >= 1);

      // The tunnel transport: allowed (conntrack sees it) and not rogue.
      const attempts = async (): Promise<number> =>
        Number(/^agent_network_connection_attempts_total\{host="workload-vm",proto="udp",class="host"\} (\d+)$/m.exec(await metrics.text())?.[1] ?? 0);
      const before = await attempts();
      bed.attempt('udp', '203.0.113.1', 51820);
      for (let i = 0; i < 300 && (await attempts()) <= before; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok((await attempts()) > before, 'conntrack saw the transport');
      assert.ok(!events.some((e) => e.type === 'rogue' && e.port === 51820), 'the transport is not rogue');

      // A slipped-in accept (the guard only alerts): the connection gets out, and is a leak.
      bed.nft('insert', 'rule', 'inet', tableName(`${HOST}:output`), 'output', 'accept');
      await until('a drift event', () => events.find((e) => e.type === 'drift'));
      assert.equal(bed.probe(), true, 'the accept rule lets the workload reach the Mac');
      const leak = await until('a rogue (allowed) event', () => rogue('allowed', PORT));
      assert.deepEqual({ from: leak.from, dst: leak.dst, iface: leak.iface }, { from: 'workload-vm', dst: GW, iface: null });
      assert.ok((await count('allowed')) >= 1);
    } finally {
      await guard?.stop();
      bed.cleanup();
      rmSync(state, { recursive: true, force: true });
    }
  });
});
