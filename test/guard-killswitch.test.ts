/**
 * The guard's kill switch, live in throw-away namespaces: an accept rule inserted into the
 * workload's cordon table opens the way to the Mac (shown by the probe with the guard in alert
 * mode); with --on-drift killswitch the guard puts its kill switch table in force and the probe is
 * blocked again while the tampered rule is still there; the next apply removes the switch, which
 * the guard reports as lifted.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { applyRuleset } from '../src/apply/apply.js';
import { netnsTarget } from '../src/apply/target.js';
import type { GuardEvent } from '../src/guard/events.js';
import { startGuard, type DriftAction, type Guard } from '../src/guard/guard.js';
import { GuardMetrics } from '../src/guard/metrics.js';
import { EventWriter } from '../src/guard/writer.js';
import { killswitchTableName, tableName } from '../src/model/names.js';
import { guardSkip as skip, HOST, isType, renderedFor, Testbed, until, vpnIr } from './support/guard-bed.js';

describe('guard kill switch (live, in namespaces)', { skip }, () => {
  let bed: Testbed;
  let state: string;
  const ir = vpnIr();
  const ruleset = renderedFor(ir, HOST);
  const guards: Guard[] = [];

  const apply = async (): Promise<void> => {
    const out = await applyRuleset({ target: netnsTarget(bed.ws), host: HOST, ruleset, stateRoot: state, ir, say: () => undefined });
    assert.equal(out.status, 'applied', out.message);
  };
  const start = async (
    onDrift: DriftAction,
    events: GuardEvent[],
    metrics: GuardMetrics,
    stateRoot = state,
    recheckMs = 60_000,
    reloadFaults = 0,
  ): Promise<Guard> => {
    const sink = new PassThrough();
    sink.resume();
    const g = await startGuard({
      ir,
      host: HOST,
      ruleset,
      target: netnsTarget(bed.ws),
      events: new EventWriter(sink, { onEvent: (e) => events.push(e) }),
      metrics,
      onDrift,
      stateRoot,
      recheckMs,
      reloadFaults,
    });
    guards.push(g);
    return g;
  };
  const tamper = (): void => bed.nft('insert', 'rule', 'inet', tableName(`${HOST}:output`), 'output', 'accept');

  before(async () => {
    bed = new Testbed();
    state = mkdtempSync(join(tmpdir(), 'cordon-guard-ks-'));
    bed.startListener();
    await until('the listener to answer', () => (bed.probe() ? true : undefined));
    await apply();
  });

  after(async () => {
    for (const g of guards) await g.stop();
    bed?.cleanup();
    rmSync(state, { recursive: true, force: true });
  });

  it('alert only: the drift is reported and the tampered rule lets the workload through', async () => {
    const events: GuardEvent[] = [];
    const g = await start('alert', events, new GuardMetrics());
    tamper();
    const drift = await until('a drift event', () => events.find((e) => e.type === 'drift'));
    assert.equal(drift.action, 'alert');
    assert.equal(bed.probe(), true, 'an inserted accept opens the way: alert mode leaves it');
    assert.ok(!events.some((e) => e.type === 'reapplied' || e.type === 'killswitch'));
    await g.stop();
    await apply();
    assert.equal(bed.probe(), false);
  });

  it('killswitch: engaged on the tamper, the probe is blocked with the tampered rule still in place, lifted by the next apply', async () => {
    const events: GuardEvent[] = [];
    const metrics = new GuardMetrics();
    const g = await start('killswitch', events, metrics);
    tamper();
    const ks = await until('a killswitch event', () => events.find((e) => e.type === 'killswitch'));
    assert.equal(ks.engaged, true, ks.message);
    const listing = bed.pool.exec(bed.ws, ['nft', 'list', 'ruleset']).stdout;
    assert.match(listing, new RegExp(`table inet ${killswitchTableName(HOST)} `));
    assert.match(listing, /^\s*accept$/m, 'the tampered accept is still loaded');
    assert.equal(bed.probe(), false, 'the kill switch blocks what the tampered rule lets through');
    assert.match(await metrics.text(), /cordon_killswitch_engaged\{host="workload-vm"\} 1/);
    await apply();
    await g.check();
    const lifted = await until('a lifted event', () => events.filter(isType('killswitch')).find((e) => !e.engaged));
    assert.match(lifted.message, /gone/);
    assert.match(await metrics.text(), /cordon_killswitch_engaged\{host="workload-vm"\} 0/);
    assert.match(await metrics.text(), /cordon_ruleset_drift\{host="workload-vm"\} 0/);
    assert.equal(bed.probe(), false, 'the re-applied rules still block');
    await g.stop();
  });

  it('a fast re-load the kernel refuses changes nothing (the tampered tables stay, no part of the new one is in), is reported, and retried', async () => {
    const events: GuardEvent[] = [];
    // Only the first re-load carries a table the kernel refuses; the retry on the next re-read is clean.
    const g = await start('reapply', events, new GuardMetrics(), state, 500, 1);
    tamper();
    const failed = await until('a failed reapplied event', () => events.filter(isType('reapplied')).find((e) => !e.ok));
    assert.match(failed.message, /nft -f refused the re-load/);
    const ok = await until('a successful re-load on a later re-read', () => events.filter(isType('reapplied')).find((e) => e.ok), 30_000);
    assert.match(ok.message, /re-loaded in one transaction/);
    // The refused transaction left nothing of itself: the injected table never appeared, and one drift was reported.
    assert.doesNotMatch(bed.pool.exec(bed.ws, ['nft', 'list', 'tables']).stdout, /cordon_injected_fault/);
    assert.equal(events.filter((e) => e.type === 'drift').length, 1, 'one tamper, one drift event');
    assert.equal(bed.probe(), false);
    await g.stop();
  });

  it('the refused re-load leaves the tampered rule in place until the retry (atomic: all or nothing)', async () => {
    const events: GuardEvent[] = [];
    // A long re-read interval: after the refused re-load nothing retries, so the state it left can be looked at.
    const g = await start('reapply', events, new GuardMetrics(), state, 60_000, 1);
    tamper();
    await until('a failed reapplied event', () => events.filter(isType('reapplied')).find((e) => !e.ok));
    const listing = bed.pool.exec(bed.ws, ['nft', 'list', 'ruleset']).stdout;
    assert.match(listing, /^\s*accept$/m, 'the tampered accept is still loaded: the transaction did not half-apply');
    assert.doesNotMatch(listing, /cordon_injected_fault/);
    await g.stop();
    await apply();
    assert.equal(bed.probe(), false);
  });

  it('without an applied run of this rule set, re-loads are full applies; a failed one is retried on the periodic re-read until it succeeds', async () => {
    const events: GuardEvent[] = [];
    // apply's state directory is a file: the first re-load cannot start.
    const blocker = join(state, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const g = await start('reapply', events, new GuardMetrics(), blocker, 500);
    tamper();
    const failed = await until('a failed reapplied event', () => events.filter(isType('reapplied')).find((e) => !e.ok));
    assert.match(failed.message, /apply failed/);
    rmSync(blocker);
    mkdirSync(blocker);
    const ok = await until('a successful re-apply on a later re-read', () => events.filter(isType('reapplied')).find((e) => e.ok), 30_000);
    assert.match(ok.message, /full apply/, 'no applied run of this text in that state directory: the checked path');
    assert.equal(events.filter((e) => e.type === 'drift').length, 1, 'one tamper, one drift event, however many tries');
    assert.equal(bed.probe(), false);
    await g.stop();
  });
});
