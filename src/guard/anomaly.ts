/**
 * Anomalies (seed 001: "Analyzed: anomaly detection / Alerted: unusual traffic"): per host, the
 * rates of new connections (allowed or blocked) and of blocked attempts, one reading per interval,
 * against two limits — the absolute thresholds of the spec's `guard:` section, and the host's own
 * baseline: an exponentially weighted moving average and deviation of its past readings. A rate
 * above the threshold, or more than `deviations` deviations above the average (once the baseline
 * has a few readings), is an anomaly. One anomaly is reported when a rate goes out, not once per
 * reading while it stays out; it is over when a reading is back inside both limits.
 *
 * Only upward: a host that suddenly stops talking is not what an exfiltration or a scan looks
 * like. Pure (the guard counts and ticks it), no clock inside.
 */
import type { GuardSettings } from '../model/types.js';

export type RateKind = 'connections' | 'blocked';
export const RATE_KINDS: readonly RateKind[] = ['connections', 'blocked'];

export interface Anomaly {
  /** The host whose rate it is (the source of the connections; the host a dropping rule is about). */
  readonly subject: string;
  readonly kind: RateKind;
  /** This reading, per minute. */
  readonly ratePerMinute: number;
  /** The baseline before this reading: moving average and deviation per minute (null while warming up). */
  readonly baselinePerMinute: number | null;
  readonly deviationPerMinute: number | null;
  /** The spec's absolute threshold per minute. */
  readonly threshold: number;
  /** `threshold`: above the absolute threshold; `baseline`: only above the host's own baseline. */
  readonly reason: 'threshold' | 'baseline';
}

export interface AnomalyOptions {
  /** Seconds between readings (the guard's tick). */
  readonly intervalS: number;
  /** Weight of a new reading in the moving average (default 0.1: about the last 10 readings). */
  readonly alpha?: number;
  /** Readings before the baseline is trusted (default 6). */
  readonly warmup?: number;
  /** Fewest events in one reading for a baseline anomaly (default 3: one stray packet is no pattern). */
  readonly minEvents?: number;
}

interface Baseline {
  mean: number;
  variance: number;
  readings: number;
  out: boolean;
}

export class AnomalyDetector {
  private readonly counts = new Map<string, number>();
  private readonly baselines = new Map<string, Baseline>();
  private readonly alpha: number;
  private readonly warmup: number;
  private readonly minEvents: number;

  constructor(
    private readonly settings: Pick<GuardSettings, 'blockedPerMinute' | 'connectionsPerMinute' | 'deviations'>,
    private readonly opts: AnomalyOptions,
  ) {
    this.alpha = opts.alpha ?? 0.1;
    this.warmup = opts.warmup ?? 6;
    this.minEvents = opts.minEvents ?? 3;
  }

  /** Counts `n` events of one kind for a host in the current interval. */
  count(subject: string, kind: RateKind, n = 1): void {
    const k = `${kind}\u0000${subject}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + n);
  }

  /**
   * Ends the interval: every host seen so far gets a reading (0 when it was quiet), compared with
   * its limits and then folded into its baseline. Returns the anomalies that began now, sorted.
   */
  tick(): Anomaly[] {
    const keys = new Set([...this.counts.keys(), ...this.baselines.keys()]);
    const out: Anomaly[] = [];
    for (const k of [...keys].sort()) {
      const [kind, subject] = k.split('\u0000') as [RateKind, string];
      const n = this.counts.get(k) ?? 0;
      const rate = (n / this.opts.intervalS) * 60;
      const b = this.baselines.get(k) ?? { mean: 0, variance: 0, readings: 0, out: false };
      const threshold = kind === 'blocked' ? this.settings.blockedPerMinute : this.settings.connectionsPerMinute;
      const warm = b.readings >= this.warmup;
      const sd = Math.sqrt(b.variance);
      // A deviation of at least one event per interval, so a host that was perfectly steady is not alarmed by one more.
      const spread = Math.max(sd, 60 / this.opts.intervalS);
      const overThreshold = rate > threshold;
      const overBaseline = warm && n >= this.minEvents && rate > b.mean + this.settings.deviations * spread;
      const isOut = overThreshold || overBaseline;
      if (isOut && !b.out)
        out.push({
          subject,
          kind,
          ratePerMinute: round(rate),
          baselinePerMinute: warm ? round(b.mean) : null,
          deviationPerMinute: warm ? round(sd) : null,
          threshold,
          reason: overThreshold ? 'threshold' : 'baseline',
        });
      b.out = isOut;
      // EWMA of mean and variance (West's incremental form).
      const diff = rate - b.mean;
      const incr = this.alpha * diff;
      b.mean = b.readings === 0 ? rate : b.mean + incr;
      b.variance = b.readings === 0 ? 0 : (1 - this.alpha) * (b.variance + diff * incr);
      b.readings++;
      this.baselines.set(k, b);
    }
    this.counts.clear();
    return out;
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
