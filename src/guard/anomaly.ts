/**
 * Anomalies (seed 001: "Analyzed: anomaly detection / Alerted: unusual traffic"): per host, the
 * rates of new connections (allowed or blocked) and of blocked attempts, one reading per interval,
 * against two limits — the absolute thresholds of the spec's `guard:` section, and the host's own
 * baseline: an exponentially weighted moving average and deviation of its past readings. A rate
 * above the threshold, or more than `deviations` deviations above the average (once the baseline
 * has a few readings), is an anomaly. One anomaly is reported when a rate goes out, not once per
 * reading while it stays out; it is over when a reading is back inside both limits.
 *
 * Downward too, for new connections only: a host that talked steadily and stops (a dead agent, a
 * cut link) is an anomaly with direction `down`. Blocked attempts that stop are good news, so they
 * are never one. With hysteresis, so a rate near the edge does not flap: it goes down only after
 * `downReadings` readings in a row below `downFraction` of its baseline, and is back only at a
 * reading of at least `upFraction` of it; while down, the baseline is frozen (the silence is not
 * learnt as normal). Pure (the guard counts and ticks it), no clock inside.
 */
import type { GuardSettings } from '../model/types.js';

export type RateKind = 'connections' | 'blocked';
export const RATE_KINDS: readonly RateKind[] = ['connections', 'blocked'];

/** `up`: the rate rose out of its limits; `down`: it fell far below its baseline. */
export type AnomalyDirection = 'up' | 'down';

/** The directions a rate of this kind can leave its limits in (blocked attempts that stop are never one). */
export function anomalyDirections(kind: RateKind): readonly AnomalyDirection[] {
  return kind === 'connections' ? ['up', 'down'] : ['up'];
}

export interface Anomaly {
  readonly direction: AnomalyDirection;
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
  /** `threshold`: above the absolute threshold; `baseline`: above (direction up) or far below (down) the host's own baseline. */
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
  /** A connections reading below this share of the baseline is low (default 0.2). */
  readonly downFraction?: number;
  /** Low readings in a row before the rate is down (default 3: one quiet interval is no outage). */
  readonly downReadings?: number;
  /** A reading of at least this share of the baseline ends a downward anomaly (default 0.5). */
  readonly upFraction?: number;
}

interface Baseline {
  mean: number;
  variance: number;
  readings: number;
  out: boolean;
  /** Low readings in a row so far (connections only). */
  low: number;
  down: boolean;
}

export class AnomalyDetector {
  private readonly counts = new Map<string, number>();
  private readonly baselines = new Map<string, Baseline>();
  private readonly alpha: number;
  private readonly warmup: number;
  private readonly minEvents: number;
  private readonly downFraction: number;
  private readonly downReadings: number;
  private readonly upFraction: number;

  constructor(
    private readonly settings: Pick<GuardSettings, 'blockedPerMinute' | 'connectionsPerMinute' | 'deviations'>,
    private readonly opts: AnomalyOptions,
  ) {
    this.alpha = opts.alpha ?? 0.1;
    this.warmup = opts.warmup ?? 6;
    this.minEvents = opts.minEvents ?? 3;
    this.downFraction = opts.downFraction ?? 0.2;
    this.downReadings = opts.downReadings ?? 3;
    this.upFraction = opts.upFraction ?? 0.5;
    if (!(this.downFraction > 0 && this.downFraction < this.upFraction && this.upFraction <= 1))
      throw new Error('anomaly options: 0 < downFraction < upFraction <= 1 (the gap between them is the hysteresis)');
    if (!(this.downReadings >= 1)) throw new Error('anomaly options: downReadings must be at least 1');
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
      const b = this.baselines.get(k) ?? { mean: 0, variance: 0, readings: 0, out: false, low: 0, down: false };
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
          direction: 'up',
          subject,
          kind,
          ratePerMinute: round(rate),
          baselinePerMinute: warm ? round(b.mean) : null,
          deviationPerMinute: warm ? round(sd) : null,
          threshold,
          reason: overThreshold ? 'threshold' : 'baseline',
        });
      b.out = isOut;
      if (kind === 'connections') {
        const fell = this.downward(b, rate, warm);
        if (fell)
          out.push({
            direction: 'down',
            subject,
            kind,
            ratePerMinute: round(rate),
            baselinePerMinute: round(b.mean),
            deviationPerMinute: round(sd),
            threshold,
            reason: 'baseline',
          });
        // The silence is not folded into the baseline: it would become the new normal and end the anomaly by itself.
        if (b.down || b.low > 0) {
          this.baselines.set(k, b);
          continue;
        }
      }
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

  /**
   * The downward state machine of one connections rate; true when it goes down at this reading.
   * Only a baseline of at least `minEvents` per interval counts: a host that rarely talks is not
   * missed when quiet.
   */
  private downward(b: Baseline, rate: number, warm: boolean): boolean {
    const eligible = warm && (b.mean * this.opts.intervalS) / 60 >= this.minEvents;
    if (b.down) {
      if (rate >= this.upFraction * b.mean) {
        b.down = false;
        b.low = 0;
      }
      return false;
    }
    if (!eligible || rate >= this.downFraction * b.mean) {
      b.low = 0;
      return false;
    }
    b.low++;
    if (b.low < this.downReadings) return false;
    b.down = true;
    b.low = 0;
    return true;
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
