/**
 * Anomalies (seed 001): the spec's `guard:` section (defaults, bad values with their line), the
 * detector on its own — an absolute threshold, a host's own moving baseline, one report per
 * excursion, a stray packet no alarm — and live in namespaces: a burst of forbidden packets from the
 * vpn-only example's workload past a low `guard.blockedPerMinute` is an `anomaly` event, counted.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AnomalyDetector } from '../src/guard/anomaly.js';
import { eventLine, parseEventLine, type GuardEvent } from '../src/guard/events.js';
import { formatEvent } from '../src/guard/format.js';
import type { Guard } from '../src/guard/guard.js';
import { GuardMetrics } from '../src/guard/metrics.js';
import { compile } from '../src/ir/compile.js';
import { loadModelFromText } from '../src/model/load.js';
import { GUARD_DEFAULTS } from '../src/model/types.js';
import { GW, guardSkip, HOST, isType, renderedFor, Testbed, until, VPN, applyAndGuard } from './support/guard-bed.js';

const SPEC = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24 }
hosts:
  hv: { kind: hypervisor, nics: { lan0: 10.1.0.1 } }
`;

describe('guard: the spec’s guard: section', () => {
  it('fills every default when absent, and takes what is given', () => {
    const none = loadModelFromText(SPEC, 'g.yaml').model!;
    assert.deepEqual({ ...none.guard, origin: undefined }, { ...GUARD_DEFAULTS, origin: undefined });
    const some = loadModelFromText(`${SPEC}guard: { blockedPerMinute: 20, deviations: 2.5 }\n`, 'g.yaml').model!;
    assert.equal(some.guard.blockedPerMinute, 20);
    assert.equal(some.guard.deviations, 2.5);
    assert.equal(some.guard.connectionsPerMinute, GUARD_DEFAULTS.connectionsPerMinute);
    assert.equal(some.guard.vpnDownAfterS, 180);
  });

  const bad: { name: string; guard: string; message: RegExp }[] = [
    { name: 'a zero threshold', guard: 'guard: { blockedPerMinute: 0 }', message: /blockedPerMinute/ },
    { name: 'a fractional threshold', guard: 'guard: { connectionsPerMinute: 1.5 }', message: /connectionsPerMinute/ },
    { name: 'an unknown field', guard: 'guard: { blockedperminute: 5 }', message: /blockedperminute/ },
    { name: 'text for a number', guard: 'guard: { deviations: lots }', message: /deviations/ },
    { name: 'a day and more for the VPN', guard: 'guard: { vpnDownAfter: 86401 }', message: /vpnDownAfter/ },
  ];
  for (const c of bad)
    it(`refuses ${c.name}, naming the line`, () => {
      const r = loadModelFromText(`${SPEC}${c.guard}\n`, 'g.yaml');
      assert.equal(r.model, undefined);
      const d = r.diagnostics.find((x) => c.message.test(`${x.message} ${x.path ?? ''}`));
      assert.ok(d, r.diagnostics.map((x) => `${x.code} ${x.path ?? ''} ${x.message}`).join('\n'));
      assert.equal(d.line, 6, 'the line of guard:');
      assert.equal(d.severity, 'error');
    });
});

describe('guard: anomaly detection', () => {
  const settings = { blockedPerMinute: 60, connectionsPerMinute: 10_000, deviations: 4 };

  it('reports a rate above the absolute threshold once per excursion, even before a baseline exists', () => {
    const d = new AnomalyDetector(settings, { intervalS: 10 });
    d.count('agent', 'blocked', 11); // 66 a minute
    const [a, ...rest] = d.tick();
    assert.deepEqual(rest, []);
    assert.deepEqual(a, {
      direction: 'up',
      subject: 'agent',
      kind: 'blocked',
      ratePerMinute: 66,
      baselinePerMinute: null,
      deviationPerMinute: null,
      threshold: 60,
      reason: 'threshold',
    });
    d.count('agent', 'blocked', 11);
    assert.deepEqual(d.tick(), [], 'still out: not reported again');
    assert.deepEqual(d.tick(), [], 'back inside (a quiet interval)');
    d.count('agent', 'blocked', 10); // 60: not above
    assert.deepEqual(d.tick(), []);
    d.count('agent', 'blocked', 12);
    assert.equal(d.tick()[0]?.ratePerMinute, 72, 'a new excursion is reported');
  });

  it("reports a rate far above the host's own steady baseline, below any threshold", () => {
    const d = new AnomalyDetector(settings, { intervalS: 10 });
    for (let i = 0; i < 10; i++) {
      d.count('agent', 'connections', 5); // 30 a minute, steady
      assert.deepEqual(d.tick(), [], `reading ${i}`);
    }
    d.count('agent', 'connections', 12); // 72 a minute: 30 + 4 × max(deviation, 6) = 54 < 72
    const [a] = d.tick();
    assert.equal(a?.reason, 'baseline');
    assert.equal(a?.baselinePerMinute, 30);
    assert.equal(a?.deviationPerMinute, 0);
    assert.equal(a?.ratePerMinute, 72);
  });

  it('takes a noisy host’s spread into account, and no stray packet or warm-up reading is an alarm', () => {
    const d = new AnomalyDetector(settings, { intervalS: 10 });
    const noisy = [0, 20, 2, 18, 0, 25, 3, 15, 1, 22];
    for (const n of noisy) {
      d.count('busy', 'connections', n);
      d.count('quiet', 'blocked', 0);
      assert.deepEqual(d.tick(), []);
    }
    d.count('busy', 'connections', 30); // 180 a minute: high for it, inside its spread
    d.count('quiet', 'blocked', 2); // two stray packets after a silence: fewer than minEvents
    assert.deepEqual(d.tick(), []);
    d.count('quiet', 'blocked', 5); // 30 a minute, 5 packets: out of a zero baseline
    assert.deepEqual(
      d.tick().map((a) => [a.subject, a.kind, a.reason]),
      [['quiet', 'blocked', 'baseline']],
    );
  });

  /** Feeds one connections reading per element for 'agent'; returns the anomalies of each tick. */
  const feed = (d: AnomalyDetector, series: readonly number[]) =>
    series.map((n) => {
      d.count('agent', 'connections', n);
      return d.tick();
    });
  const steady = (n: number, times: number) => Array.from({ length: times }, () => n);

  it('reports a steady connections rate that stops as one downward anomaly, after three low readings, not before', () => {
    const d = new AnomalyDetector(settings, { intervalS: 10 });
    assert.deepEqual(feed(d, steady(6, 10)).flat(), [], 'steady at 36 a minute');
    const [first, second, third, ...later] = feed(d, [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(first, [], 'one quiet interval is no outage');
    assert.deepEqual(second, []);
    assert.deepEqual(third, [
      {
        direction: 'down',
        subject: 'agent',
        kind: 'connections',
        ratePerMinute: 0,
        baselinePerMinute: 36,
        deviationPerMinute: 0,
        threshold: 10_000,
        reason: 'baseline',
      },
    ]);
    assert.deepEqual(later.flat(), [], 'reported once while it stays down, and the silence is not learnt as the baseline');
  });

  it('does not flap at the edge: back only at half the baseline, down again only after three more low readings', () => {
    const d = new AnomalyDetector(settings, { intervalS: 10 });
    feed(d, steady(10, 10)); // 60 a minute
    const down = feed(d, [0, 0, 0]).flat();
    assert.deepEqual(
      down.map((a) => a.direction),
      ['down'],
    );
    // 3 and 4 a reading: above a fifth (2), below half (5) of the frozen baseline: still down, nothing new.
    assert.deepEqual(feed(d, [3, 4, 3, 4, 0, 0, 0, 0]).flat(), [], 'hovering between the two edges is one anomaly');
    assert.deepEqual(feed(d, [5]).flat(), [], 'back at half: over, silently');
    assert.deepEqual(feed(d, [1, 1]).flat(), [], 'two low readings: not yet');
    assert.deepEqual(
      feed(d, [1])
        .flat()
        .map((a) => [a.direction, a.ratePerMinute]),
      [['down', 6]],
      'the third low reading in a row: down again',
    );
  });

  it('never reports a downward anomaly for a noisy, a rare or a warming-up rate, nor for blocked attempts that stop', () => {
    const noisy = new AnomalyDetector(settings, { intervalS: 10 });
    // Low readings, but never three in a row.
    assert.deepEqual(feed(noisy, [0, 20, 2, 18, 0, 25, 3, 15, 1, 22, 0, 0, 19, 1, 0, 24]).flat(), []);
    const rare = new AnomalyDetector(settings, { intervalS: 10 });
    // One or two connections an interval on average: fewer than minEvents, its silence is nothing.
    assert.deepEqual(feed(rare, [...[2, 1, 2, 1, 2, 1, 2, 1], 0, 0, 0, 0, 0]).flat(), []);
    const young = new AnomalyDetector(settings, { intervalS: 10 });
    assert.deepEqual(feed(young, [10, 10, 0, 0, 0, 0]).flat(), [], 'no baseline yet');
    const blocked = new AnomalyDetector({ ...settings, blockedPerMinute: 10_000 }, { intervalS: 10 });
    for (let i = 0; i < 10; i++) {
      blocked.count('agent', 'blocked', 10);
      blocked.tick();
    }
    for (let i = 0; i < 5; i++) assert.deepEqual(blocked.tick(), [], 'a scan that ends is good news');
  });

  it('keeps directions apart: a burst after an outage is an upward anomaly against the pre-outage baseline', () => {
    const d = new AnomalyDetector(settings, { intervalS: 10 });
    feed(d, steady(5, 10)); // 30 a minute
    assert.deepEqual(
      feed(d, [0, 0, 0])
        .flat()
        .map((a) => a.direction),
      ['down'],
    );
    const [burst] = feed(d, [20]); // 120 a minute: back (≥ half) and above 30 + 4 × 6
    assert.deepEqual(
      burst!.map((a) => [a.direction, a.reason, a.baselinePerMinute]),
      [['up', 'baseline', 30]],
    );
  });

  it('refuses downward options without a gap for the hysteresis', () => {
    assert.throws(() => new AnomalyDetector(settings, { intervalS: 10, downFraction: 0.5, upFraction: 0.5 }), /hysteresis/);
    assert.throws(() => new AnomalyDetector(settings, { intervalS: 10, downReadings: 0 }), /downReadings/);
  });

  it('writes anomaly events that pass the schema and read as one line', () => {
    const e: GuardEvent = {
      v: 1,
      time: '2026-12-04T10:00:00.000Z',
      type: 'anomaly',
      host: 'pve',
      netns: null,
      subject: 'agent-1',
      kind: 'blocked',
      direction: 'up',
      ratePerMinute: 72,
      baselinePerMinute: 30,
      deviationPerMinute: 1.5,
      threshold: 60,
      reason: 'threshold',
    };
    assert.deepEqual(parseEventLine(eventLine(e)), e);
    assert.equal(
      formatEvent(e),
      '2026-12-04T10:00:00.000Z pve anomaly agent-1: 72 blocked attempts a minute (above the threshold 60; threshold 60, baseline 30 ± 1.5)',
    );
    const down: GuardEvent = { ...e, kind: 'connections', direction: 'down', ratePerMinute: 0, reason: 'baseline' };
    assert.deepEqual(parseEventLine(eventLine(down)), down);
    assert.match(formatEvent(down), /agent-1: 0 new connections a minute \(far below its baseline 30 ± 1.5;/);
    // A line written before `direction` existed reads as an upward anomaly.
    const old: Record<string, unknown> = { ...e };
    delete old.direction;
    const parsed = parseEventLine(JSON.stringify(old));
    assert.equal(parsed?.type === 'anomaly' && parsed.direction, 'up');
  });
});

describe('guard: anomalies live, in namespaces', { skip: guardSkip }, () => {
  it('turns a burst of forbidden packets past guard.blockedPerMinute into an anomaly event and counts it', async () => {
    const bed = new Testbed();
    const state = mkdtempSync(join(tmpdir(), 'cordon-g2-anomaly-'));
    const events: GuardEvent[] = [];
    const metrics = new GuardMetrics();
    let guard: Guard | undefined;
    try {
      const loaded = loadModelFromText(`${readFileSync(VPN, 'utf8')}\nguard: { blockedPerMinute: 30 }\n`, VPN);
      assert.ok(loaded.model);
      const ir = compile(loaded.model);
      const ruleset = renderedFor(ir, HOST);
      guard = await applyAndGuard(bed, { ir, ruleset, state, events, metrics }, { onDrift: 'alert', recheckMs: 60_000, anomalyMs: 2000 });
      assert.deepEqual(events.filter(isType('anomaly')), [], 'nothing unusual at the start');
      // 20 forbidden datagrams within one 2 s reading: 600 a minute, above 30.
      bed.pool.exec(bed.ws, ['bash', '-c', `for i in $(seq 20); do echo x 2>/dev/null > /dev/udp/${GW}/7200; done`]);
      const a = await until('an anomaly event', () => events.filter(isType('anomaly')).find((e) => e.kind === 'blocked'), 10_000);
      assert.equal(a.subject, HOST);
      assert.equal(a.threshold, 30);
      assert.equal(a.reason, 'threshold');
      assert.ok(a.ratePerMinute > 30, String(a.ratePerMinute));
      const text = await metrics.text();
      assert.match(text, /^cordon_anomalies_total\{host="workload-vm",kind="blocked",direction="up"\} [1-9]/m);
      // Both directions of new connections are there from the start (a rate that drops has a series to rise in); blocked attempts only go up.
      assert.match(text, /^cordon_anomalies_total\{host="workload-vm",kind="connections",direction="down"\} 0$/m);
      assert.doesNotMatch(text, /^cordon_anomalies_total\{[^}]*kind="blocked",direction="down"/m);
    } finally {
      await guard?.stop();
      bed.cleanup();
      rmSync(state, { recursive: true, force: true });
    }
  });
});
