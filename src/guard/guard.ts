/**
 * One guard for one enforcing host: it reads the drops cordon's rules log (NFLOG through ulogd),
 * turns each into a `blocked` event with the origin `explain` would print and counts it; and it
 * watches cordon's tables for drift (nft monitor plus a periodic re-read), reporting each change
 * and, with `onDrift: 'reapply'`, loading the rule set again atomically: in one `nft -f` when
 * `cordon apply` already loaded and checked this exact text here (the fast path, src/apply/reload.ts),
 * else through a full apply with its snapshot and checks.
 *
 * It never opens anything: the rules drop by default with or without it, and everything it starts
 * (ulogd, nft monitor) dies with it. A library: the command (src/cli/commands/guard.ts) is a shell.
 */
import { applyRuleset } from '../apply/apply.js';
import { appliedRun, reloadRuleset } from '../apply/reload.js';
import { netOnly, type Target } from '../apply/target.js';
import type { Ir } from '../ir/types.js';
import { killswitchTableName, NFLOG_GROUP } from '../model/names.js';
import { firstError } from '../system/exec.js';
import { parseIPv4 } from '../util/ip.js';
import type { Flow } from '../util/flows.js';
import { compareTables, expectedTables, loadedRuleset, NftMonitor, type Drift, type TableTexts } from './drift.js';
import { EVENT_SCHEMA_VERSION, type GuardEvent } from './events.js';
import type { GuardMetrics } from './metrics.js';
import { droppedPackets, UnloggedTally } from './counters.js';
import { killswitchRuleset } from './killswitch.js';
import { ConntrackReader, type ConntrackNew } from './conntrack.js';
import { NflogReader, type NflogRecord } from './nflog.js';
import { parseLinkStats, TrafficTally, trafficPorts } from './traffic.js';
import { expectedPeers, parseWgDump, peerName, VpnHealth, vpnTunnels } from './vpn.js';
import { destClass, OriginIndex } from './origin.js';
import { AnomalyDetector, anomalyDirections, RATE_KINDS } from './anomaly.js';
import { RogueDetector, type Rogue, type Sighting } from './rogue.js';
import type { EventWriter } from './writer.js';

/** What the guard does when cordon's tables drift: load the rule set again, or only report it. */
export type DriftAction = 'reapply' | 'killswitch' | 'alert';
export const DRIFT_ACTIONS: readonly DriftAction[] = ['reapply', 'killswitch', 'alert'];

/** The periodic re-read's default interval (DESIGN: a full comparison every 30 s beside nft monitor). */
export const DEFAULT_RECHECK_MS = 30_000;

/** Anomaly readings: one per 10 s (a rate per minute from six readings a minute). */
export const DEFAULT_ANOMALY_MS = 10_000;

/** ulogd restarts back off from this to RESTART_MAX_MS. */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;

/**
 * nft monitor reports one change as several lines: wait this long for the rest before re-reading.
 * The kernel sends a transaction's notifications together at commit, so a few ms gather them; a
 * change that comes later still gets its own check (check() runs once more after a busy one).
 * Was 20 ms: bench/guard.ts measures both in one run.
 */
export const DEFAULT_DEBOUNCE_MS = 5;

export interface GuardOptions {
  readonly ir: Ir;
  /** The enforcing host whose rule set is loaded in the target. */
  readonly host: string;
  /** The rendered rule set for that host (`HOST/cordon.nft`): what must stay loaded. */
  readonly ruleset: string;
  readonly target: Target;
  readonly events: EventWriter;
  readonly metrics: GuardMetrics;
  readonly onDrift: DriftAction;
  /**
   * apply's state root. When its newest applied run in the target loaded exactly `ruleset`, a
   * re-load is that text again in one `nft -f` (its checks were done at apply time); otherwise each
   * re-load is a full apply run with its snapshot and checks.
   */
  readonly stateRoot: string;
  /** A WireGuard peer whose last handshake is older than this is down (default: the spec's guard.vpnDownAfter, 180 s unless set). */
  readonly vpnDownAfterS?: number;
  /** How often handshakes are read, ms (default 5000). */
  readonly vpnPollMs?: number;
  /** Interface names for `wg show` by tunnel, where they are not the spec's ifname (the lab's wireguard-go names). */
  readonly wgNames?: ReadonlyMap<string, string>;
  /** Test only: this many fast re-loads carry a table the kernel refuses (the transaction fails whole). */
  readonly reloadFaults?: number;
  /** How often the rates are read for anomalies, ms (default DEFAULT_ANOMALY_MS). */
  readonly anomalyMs?: number;
  /** How long to gather nft monitor's lines before a check, ms (default DEFAULT_DEBOUNCE_MS). */
  readonly debounceMs?: number;
  /** Periodic re-read interval in ms (default DEFAULT_RECHECK_MS). */
  readonly recheckMs?: number;
  /** Progress and trouble, for people (stderr in the CLI). */
  readonly say?: (line: string) => void;
}

export interface Guard {
  /** The processes it started (ulogd, nft monitor), for tests and `status`. */
  readonly pids: { readonly ulogd: number | undefined; readonly monitor: number | undefined; readonly conntrack: number | undefined };
  /** Compares the loaded tables with the rule set now (and acts on a drift); resolves when done. */
  check(): Promise<Drift>;
  /** Reads the kernel's drop counters and counts what was not logged; resolves with the running total. */
  countUnlogged(): Promise<number>;
  /** Stops watching; leaves every rule as it is. Safe to repeat. */
  stop(): Promise<void>;
}

/** IP protocol names conntrack prints, as the metrics label them. */
function protoName(p: string): string {
  return p === 'tcp' || p === 'udp' || p === 'icmp' ? p : 'other';
}

function protoFlow(r: NflogRecord): { name: string; flow: Flow } {
  switch (r.proto) {
    case 6:
      return { name: 'tcp', flow: { proto: 'tcp', port: r.dport } };
    case 17:
      return { name: 'udp', flow: { proto: 'udp', port: r.dport } };
    case 1:
      return { name: 'icmp', flow: { proto: 'icmp' } };
    default:
      return { name: String(r.proto), flow: { proto: 'other' } };
  }
}

export async function startGuard(o: GuardOptions): Promise<Guard> {
  const say = o.say ?? (() => undefined);
  const netns = o.target.netns ?? null;
  // nft alone needs only the network namespace: the hot path skips ip netns exec's mount set-up.
  const nft = netOnly(o.target);
  const now = (): string => new Date().toISOString();
  const emit = (e: GuardEvent): void => void o.events.write(e);
  const index = new OriginIndex(o.ir, o.host);
  const expected: TableTexts = await expectedTables(o.ruleset);
  if (expected.size === 0) throw new Error(`the rule set for '${o.host}' holds no cordon table: nothing to guard`);
  o.metrics.watch(o.host);

  // Rogue connections: what leaves a vpn-only host outside its tunnel (seed 004).
  const rogue = new RogueDetector(o.ir, o.wgNames?.values() ?? []);
  for (const h of o.ir.model.hosts.values())
    if (h.egress === 'vpn-only') for (const verdict of ['blocked', 'allowed']) o.metrics.rogue.inc({ host: h.name, verdict }, 0);
  const reportRogue = (r: Rogue, s: Sighting & { srcText: string; dstText: string; time: string }, verdict: 'blocked' | 'allowed'): void => {
    o.metrics.rogue.inc({ host: r.from, verdict });
    const tcpUdp = s.proto === 'tcp' || s.proto === 'udp';
    emit({
      v: EVENT_SCHEMA_VERSION,
      time: s.time,
      type: 'rogue',
      host: o.host,
      netns,
      from: r.from,
      network: r.network,
      src: s.srcText,
      dst: s.dstText,
      proto: s.proto,
      port: tcpUdp ? (s.dport ?? null) : null,
      iface: r.iface,
      verdict,
    });
  };

  // Anomalies: per-host rates against the spec's thresholds and their own baseline.
  const anomalyMs = o.anomalyMs ?? DEFAULT_ANOMALY_MS;
  const anomalies = new AnomalyDetector(o.ir.model.guard, { intervalS: anomalyMs / 1000 });
  const tickAnomalies = (): void => {
    for (const a of anomalies.tick()) {
      o.metrics.anomalies.inc({ host: a.subject, kind: a.kind, direction: a.direction });
      emit({ v: EVENT_SCHEMA_VERSION, time: now(), type: 'anomaly', host: o.host, netns, ...a });
      say(`anomaly (${a.direction}): ${a.subject} ${a.ratePerMinute} ${a.kind} a minute (${a.reason})`);
      // The spec's guard.onAnomaly: a scan or a burst cuts the host off; a host gone quiet has nothing to cut.
      if (o.ir.model.guard.onAnomaly === 'killswitch' && a.direction === 'up' && !switchOn && !stopped)
        void engage(Date.now()).catch((e: unknown) => say(`the kill switch failed: ${(e as Error).message}`));
    }
  };
  for (const kind of RATE_KINDS) for (const direction of anomalyDirections(kind)) o.metrics.anomalies.inc({ host: o.host, kind, direction }, 0);

  // Attempts are counted by the host they come from, when the source is a declared address.
  const hostOf = new Map<number, string>();
  for (const h of o.ir.model.hosts.values()) for (const n of h.nics) hostOf.set(n.address, h.name);
  const onNew = (c: ConntrackNew): void => {
    const src = parseIPv4(c.src);
    const dst = parseIPv4(c.dst);
    // Loopback stays inside the host: not an attempt to reach anything.
    if (src === undefined || dst === undefined || src >>> 24 === 127 || dst >>> 24 === 127) return;
    const from = hostOf.get(src) ?? o.host;
    o.metrics.countAttempt(from, protoName(c.proto), destClass(o.ir, dst));
    anomalies.count(from, 'connections');
    const sighting = { src, dst, proto: c.proto, dport: c.dport };
    const r = rogue.classify(sighting);
    if (r) reportRogue(r, { ...sighting, srcText: c.src, dstText: c.dst, time: now() }, 'allowed');
  };

  // Every cordon drop the guard was told about (its own prefixes), for the unlogged count.
  let logged = 0;
  const tally = new UnloggedTally();

  const onRecord = (r: NflogRecord): void => {
    const src = parseIPv4(r.src);
    const dst = parseIPv4(r.dst);
    if (src === undefined || dst === undefined) return;
    const { name, flow } = protoFlow(r);
    const origin = index.lookup(r.prefix, { src, dst, flow });
    // Another tool's NFLOG in the same group: not ours to explain or count.
    if (!origin) return;
    logged++;
    const cls = destClass(o.ir, dst);
    o.metrics.countBlocked(origin.chain.host, name, cls);
    o.metrics.countAttempt(hostOf.get(src) ?? origin.chain.host, name, cls);
    anomalies.count(origin.chain.host, 'blocked');
    anomalies.count(hostOf.get(src) ?? origin.chain.host, 'connections');
    const tcpUdp = r.proto === 6 || r.proto === 17;
    emit({
      v: EVENT_SCHEMA_VERSION,
      time: new Date(r.timeMs).toISOString(),
      type: 'blocked',
      host: o.host,
      netns,
      src: r.src,
      dst: r.dst,
      proto: name,
      port: tcpUdp ? (r.dport ?? null) : null,
      sport: tcpUdp ? (r.sport ?? null) : null,
      iif: r.iif ?? null,
      oif: r.oif ?? null,
      class: cls,
      origin: {
        point: origin.chain.point,
        kind: origin.kind,
        ...(origin.rule ? { ruleId: origin.rule.id } : {}),
        text: origin.text,
        file: origin.file,
        line: origin.line,
        path: origin.path,
      },
    });
    const sighting = { src, dst, proto: name, dport: r.dport, iif: r.iif, oif: r.oif };
    const rogueFacts = rogue.classify(sighting);
    if (rogueFacts) reportRogue(rogueFacts, { ...sighting, srcText: r.src, dstText: r.dst, time: new Date(r.timeMs).toISOString() }, 'blocked');
  };

  // Drift state: the differences last reported, so one tamper is one event, not one per re-read.
  let reported = '';
  let busy: Promise<Drift> | undefined;
  let again = false;
  let stopped = false;

  // A re-load that failed is tried again on each periodic re-read while the drift lasts.
  let reapplyFailed = false;
  let periodic = false;

  // The fast path needs the text apply checked here; without it every re-load is a full apply.
  let checkedRun = appliedRun(o.stateRoot, o.target, o.ruleset)?.path;
  let faults = o.reloadFaults ?? 0;

  const fullApply = async (): Promise<{ ok: boolean; message: string }> => {
    try {
      const out = await applyRuleset({
        target: o.target,
        host: o.host,
        ruleset: o.ruleset,
        stateRoot: o.stateRoot,
        ir: o.ir,
        say: (l) => say(`reapply: ${l}`),
      });
      if (out.status === 'applied') checkedRun = out.run?.path;
      return { ok: out.status === 'applied', message: `full apply: ${out.message}` };
    } catch (e) {
      // apply could not even start (its state directory, say): a failed re-load, reported and retried.
      return { ok: false, message: `apply failed: ${(e as Error).message}` };
    }
  };

  const reapply = async (drift: Drift, detectedAt: number): Promise<void> => {
    let out: { ok: boolean; message: string };
    if (checkedRun !== undefined) {
      // cordon tables the tamper added go in the same transaction as the re-load.
      const extra = drift.tables.filter((k) => !expected.has(k)).map((k) => ({ family: k.split(' ')[0]!, name: k.split(' ')[1]! }));
      const fault = faults > 0;
      if (fault) faults--;
      out = await reloadRuleset({ target: nft, ruleset: o.ruleset, extra, fault });
    } else out = await fullApply();
    const ms = Date.now() - detectedAt;
    reapplyFailed = !out.ok;
    if (out.ok) tally.reloaded(logged);
    emit({ v: EVENT_SCHEMA_VERSION, time: now(), type: 'reapplied', host: o.host, netns, ok: out.ok, message: out.message, ms });
    if (!out.ok) say(`re-applying failed: ${out.message}`);
  };

  // The kill switch is a cordon table of the guard's own, not part of the rule set: compared apart.
  const switchKey = `inet ${killswitchTableName(o.host)}`;
  let switchOn = false;
  // Foreign tables with base chains, reported once each (they are not cordon's to remove).
  let foreignSeen: Set<string> | undefined;
  let foreignAtStart: string[] = [];
  const read = async (): Promise<TableTexts> => {
    const loaded = await loadedRuleset(nft);
    const seen = new Set<string>();
    for (const [k, chains] of loaded.foreign) {
      if (chains.length === 0) continue;
      seen.add(k);
      if (foreignSeen !== undefined && !foreignSeen.has(k)) {
        o.metrics.tamper.inc({ host: o.host });
        emit({
          v: EVENT_SCHEMA_VERSION,
          time: now(),
          type: 'drift',
          host: o.host,
          netns,
          tables: [k],
          differences: [`foreign table ${k} appeared with base chains: ${chains.join('; ')}`],
          action: 'alert',
        });
        say(`foreign table ${k} appeared in ${o.target.label} (${chains.join('; ')})`);
      }
    }
    // The tables there at the start are the host's own setup (named in guard-started): only what appears later is news.
    if (foreignSeen === undefined) foreignAtStart = [...loaded.foreign].filter(([, c]) => c.length > 0).map(([k, c]) => `${k} (${c.join('; ')})`);
    foreignSeen = seen;
    const all = new Map(loaded.cordon);
    const on = all.delete(switchKey);
    if (on !== switchOn) {
      switchOn = on;
      o.metrics.killswitch.set({ host: o.host }, on ? 1 : 0);
      if (!on)
        emit({
          v: EVENT_SCHEMA_VERSION,
          time: now(),
          type: 'killswitch',
          host: o.host,
          netns,
          engaged: false,
          message: 'the kill switch table is gone',
          ms: null,
        });
    }
    return all;
  };

  const killSwitch = killswitchRuleset(o.ir, o.host);
  const engage = async (detectedAt: number): Promise<void> => {
    const r = await nft.exec(['nft', '-f', '-'], { input: killSwitch });
    if (r.code !== 0) {
      say(`the kill switch failed: ${firstError(r)}`);
      emit({ v: EVENT_SCHEMA_VERSION, time: now(), type: 'killswitch', host: o.host, netns, engaged: false, message: `failed: ${firstError(r)}`, ms: null });
      return;
    }
    switchOn = true;
    o.metrics.killswitch.set({ host: o.host }, 1);
    emit({
      v: EVENT_SCHEMA_VERSION,
      time: now(),
      type: 'killswitch',
      host: o.host,
      netns,
      engaged: true,
      message: `table ${switchKey} drops ${o.target.label}'s traffic until the next cordon apply`,
      ms: Date.now() - detectedAt,
    });
  };

  const checkOnce = async (): Promise<Drift> => {
    const drift = compareTables(expected, await read());
    const key = drift.differences.join('\n');
    if (drift.differences.length === 0) {
      reported = '';
      reapplyFailed = false;
      o.metrics.drift.set({ host: o.host }, 0);
      return drift;
    }
    o.metrics.drift.set({ host: o.host }, 1);
    const retry = key === reported && reapplyFailed && periodic && o.onDrift === 'reapply';
    periodic = false;
    if (retry) say(`re-applying again after a failed re-load`);
    if (key !== reported || retry) {
      reported = key;
      const detectedAt = Date.now();
      if (!retry) {
        o.metrics.tamper.inc({ host: o.host });
        emit({
          v: EVENT_SCHEMA_VERSION,
          time: now(),
          type: 'drift',
          host: o.host,
          netns,
          tables: [...drift.tables],
          differences: [...drift.differences],
          action: o.onDrift,
        });
        say(`drift in ${o.target.label}: ${drift.differences.slice(0, 5).join('; ')}`);
      }
      if (o.onDrift === 'killswitch' && !stopped && !switchOn) await engage(detectedAt);
      if (o.onDrift === 'reapply' && !stopped) {
        await reapply(drift, detectedAt);
        // The read-back, after the event: what the re-load left is the new truth (a failed re-load stays reported).
        const after = compareTables(expected, await read());
        if (after.differences.length === 0) {
          reported = '';
          o.metrics.drift.set({ host: o.host }, 0);
        } else if (!reapplyFailed) {
          // Loaded, yet not the rule set (changed again meanwhile, or the load did not take): a drift of its own, retried.
          reapplyFailed = true;
          reported = after.differences.join('\n');
          emit({
            v: EVENT_SCHEMA_VERSION,
            time: now(),
            type: 'drift',
            host: o.host,
            netns,
            tables: [...after.tables],
            differences: after.differences.map((d) => `after the re-load: ${d}`),
            action: o.onDrift,
          });
          say(`after the re-load the tables still differ: ${after.differences.slice(0, 5).join('; ')}`);
        }
        return after;
      }
    }
    return drift;
  };

  /** One check at a time; a request during a check runs one more afterwards (changes made meanwhile). */
  const check = (): Promise<Drift> => {
    if (busy) {
      again = true;
      return busy;
    }
    busy = (async () => {
      try {
        let d = await checkOnce();
        while (again && !stopped) {
          again = false;
          d = await checkOnce();
        }
        return d;
      } finally {
        busy = undefined;
      }
    })();
    return busy;
  };
  const checkSoon = (() => {
    let timer: NodeJS.Timeout | undefined;
    return (): void => {
      if (timer || stopped) return;
      timer = setTimeout(() => {
        timer = undefined;
        check().catch((e: unknown) => say(`drift check failed: ${(e as Error).message}`));
      }, o.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    };
  })();

  /** Logs of packets dropped just before a counter reading are still on their way: wait this long for them. */
  const LOG_GRACE_MS = 200;
  const countUnlogged = async (): Promise<number> => {
    const r = await nft.exec(['nft', 'list', 'ruleset']);
    if (r.code !== 0) throw new Error(`nft list ruleset failed in ${o.target.label}: ${firstError(r)}`);
    const dropped = droppedPackets(r.stdout);
    await new Promise((res) => setTimeout(res, LOG_GRACE_MS));
    const grew = tally.update(dropped, logged);
    if (grew > 0) o.metrics.unlogged.inc({ host: o.host }, grew);
    return tally.total;
  };

  // ulogd is restarted when it dies on its own (backing off to 30 s); while it is down the drops
  // still happen in the kernel and show up in cordon_blocked_unlogged_total, never silently.
  let reader: NflogReader;
  let restartTimer: NodeJS.Timeout | undefined;
  let restartDelay = RESTART_MIN_MS;
  const startReader = (): Promise<NflogReader> =>
    NflogReader.start({
      netns: o.target.netns,
      group: NFLOG_GROUP,
      onRecord,
      onExit: (why) => {
        say(`blocked-attempt logging stopped: ${why}; restarting in ${restartDelay / 1000} s`);
        scheduleRestart();
      },
    });
  const scheduleRestart = (): void => {
    if (stopped || restartTimer) return;
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopped) return;
      startReader().then(
        (r) => {
          if (stopped) return void r.stop();
          reader = r;
          restartDelay = RESTART_MIN_MS;
          say('blocked-attempt logging restarted');
        },
        (e: unknown) => {
          restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
          say(`restarting ulogd failed: ${(e as Error).message}; next try in ${restartDelay / 1000} s`);
          scheduleRestart();
        },
      );
    }, restartDelay);
  };
  reader = await startReader();
  let conntrack: ConntrackReader | undefined;
  const startConntrack = (): void => {
    conntrack = ConntrackReader.start(o.target.netns, onNew, (why) => {
      conntrack = undefined;
      if (!stopped) say(`accepted-connection counting stopped: ${why}; restarting on the next re-read`);
    });
  };
  startConntrack();
  // Per-host traffic, read from the kernel's interface counters when Prometheus scrapes.
  const ports = trafficPorts(o.ir, o.host);
  const traffic = new TrafficTally();
  const unscrape =
    ports.length === 0
      ? () => undefined
      : o.metrics.onScrape(async () => {
          const r = await nft.exec(['ip', '-s', '-j', 'link', 'show']);
          if (r.code !== 0) throw new Error(firstError(r));
          for (const [host, d] of traffic.update(ports, parseLinkStats(r.stdout))) {
            o.metrics.rxBytes.inc({ host }, d.rxBytes);
            o.metrics.txBytes.inc({ host }, d.txBytes);
            o.metrics.rxPackets.inc({ host }, d.rxPackets);
            o.metrics.txPackets.inc({ host }, d.txPackets);
          }
        });
  // VPN health: handshake age per peer of every tunnel the host is on.
  const tunnels = vpnTunnels(o.ir, o.host, o.wgNames);
  const downAfter = o.vpnDownAfterS ?? o.ir.model.guard.vpnDownAfterS;
  const health = new VpnHealth(downAfter);
  let vpnBusy = false;
  const pollVpn = async (): Promise<void> => {
    if (vpnBusy || stopped) return;
    vpnBusy = true;
    try {
      for (const t of tunnels) {
        const r = await nft.exec(['wg', 'show', t.ifname, 'dump']);
        const nowS = Date.now() / 1000;
        const ages = new Map<string, number>();
        // No interface (never brought up, or gone): every peer it should have is down.
        for (const p of expectedPeers(t, o.host)) ages.set(p, Infinity);
        if (r.code === 0)
          for (const p of parseWgDump(r.stdout)) {
            const name = peerName(t, p.allowedIps);
            ages.set(name, Math.min(ages.get(name) ?? Infinity, VpnHealth.age(p, nowS)));
          }
        for (const [peer, age] of ages) {
          o.metrics.handshakeAge.set({ host: o.host, peer }, age);
          const change = health.update(t.tunnel, peer, age);
          if (!change || stopped) continue;
          const when = change.ageSeconds === null ? 'never' : `${change.ageSeconds} s ago`;
          emit({
            v: EVENT_SCHEMA_VERSION,
            time: now(),
            type: change.up ? 'vpn-up' : 'vpn-down',
            host: o.host,
            netns,
            tunnel: t.tunnel,
            peer,
            ageSeconds: change.ageSeconds,
            message: change.up
              ? `handshake with ${peer} ${when}: the tunnel is up`
              : `no handshake with ${peer} for more than ${downAfter} s (last: ${when})${r.code === 0 ? '' : `; wg show ${t.ifname}: ${firstError(r)}`}; the rules keep ${o.host} closed meanwhile`,
          });
          say(`${t.tunnel}: peer ${peer} ${change.up ? 'up' : 'DOWN'} (last handshake ${when})`);
        }
      }
    } finally {
      vpnBusy = false;
    }
  };
  let vpnTimer: NodeJS.Timeout | undefined;
  const anomalyTimer = setInterval(tickAnomalies, anomalyMs);

  let monitor: NftMonitor | undefined;
  let interval: NodeJS.Timeout | undefined;
  try {
    monitor = NftMonitor.start(o.target, checkSoon, (why) => say(`drift watch (nft monitor) stopped: ${why}; the periodic re-read goes on`));
    interval = setInterval(() => {
      periodic = true;
      if (conntrack === undefined && !stopped) startConntrack();
      checkSoon();
      countUnlogged().catch((e: unknown) => say(`reading the drop counters failed: ${(e as Error).message}`));
    }, o.recheckMs ?? DEFAULT_RECHECK_MS);
    await countUnlogged();
    if (tunnels.length > 0) {
      await pollVpn();
      vpnTimer = setInterval(
        () => void pollVpn().catch((e: unknown) => say(`reading WireGuard handshakes failed: ${(e as Error).message}`)),
        o.vpnPollMs ?? 5000,
      );
    }
    const first = await check();
    emit({
      v: EVENT_SCHEMA_VERSION,
      time: now(),
      type: 'guard-started',
      host: o.host,
      netns,
      message:
        (first.differences.length === 0
          ? `watching ${expected.size} cordon table(s) in ${o.target.label}; they match the rule set`
          : `watching ${o.target.label}; the loaded tables did not match the rule set at start (see the drift event)`) +
        (foreignAtStart.length > 0 ? `; other tables with base chains: ${foreignAtStart.join(', ')}` : '') +
        (o.onDrift !== 'reapply'
          ? ''
          : checkedRun !== undefined
            ? `; re-loads: the rule set apply checked in ${checkedRun}, in one nft -f`
            : `; re-loads: full apply runs (no applied run of this rule set in ${o.stateRoot})`),
    });
  } catch (e) {
    if (interval) clearInterval(interval);
    clearInterval(vpnTimer);
    clearInterval(anomalyTimer);
    unscrape();
    await monitor?.stop();
    await conntrack?.stop();
    await reader.stop();
    throw e;
  }

  return {
    get pids() {
      return { ulogd: reader.pid, monitor: monitor?.pid, conntrack: conntrack?.pid };
    },
    check,
    countUnlogged,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(interval);
      clearInterval(vpnTimer);
      clearInterval(anomalyTimer);
      clearTimeout(restartTimer);
      unscrape();
      await monitor?.stop();
      await conntrack?.stop();
      await busy?.catch(() => undefined);
      await reader.stop();
      o.metrics.up.set({ host: o.host }, 0);
      emit({ v: EVENT_SCHEMA_VERSION, time: now(), type: 'guard-stopped', host: o.host, netns, message: 'stopped; the rules stay as they are' });
    },
  };
}
