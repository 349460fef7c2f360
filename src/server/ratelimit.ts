/**
 * A fixed-window counter per key (a client address): `max` hits per `windowMs`, then refusals that
 * say how long to wait. In memory: limits restart with the server, which is acceptable for a
 * brute-force brake (a restart costs the attacker nothing they could not get by waiting a window).
 */
export type Hit = { readonly ok: true } | { readonly ok: false; readonly retryAfterS: number };

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  hit(key: string): Hit {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.start >= this.windowMs) {
      w = { start: t, count: 0 };
      this.windows.set(key, w);
      if (this.windows.size > 10_000) this.prune(t);
    }
    w.count++;
    if (w.count <= this.max) return { ok: true };
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((w.start + this.windowMs - t) / 1000)) };
  }

  private prune(t: number): void {
    for (const [k, w] of this.windows) if (t - w.start >= this.windowMs) this.windows.delete(k);
  }
}
