/**
 * What the NFLOG rate limit kept from the guard: the kernel's own counters on cordon's drop and
 * reject rules hold every packet they dropped, the guard counts the ones it was told about, and the
 * difference is what was not logged (`cordon_blocked_unlogged_total`) — never silent.
 */
import { splitTables } from '../apply/apply.js';
import { TABLE_PREFIX } from '../model/names.js';

/**
 * Packets dropped or rejected by cordon's tables in an `nft list ruleset` listing (with counters),
 * not counting `ct state invalid` drops, which are not connection attempts and are not logged.
 */
export function droppedPackets(listing: string): number {
  let n = 0;
  for (const [k, text] of splitTables(listing)) {
    if (!k.split(' ')[1]!.startsWith(TABLE_PREFIX)) continue;
    for (const line of text.split('\n')) {
      const m = /counter packets (\d+) bytes \d+ (drop|reject)\b/.exec(line);
      if (m && !/\bct state invalid\b/.test(line)) n += Number(m[1]);
    }
  }
  return n;
}

/**
 * The running count of unlogged drops from successive readings of the counters and of how many
 * drops the guard was told about (`logged`, read a moment after the counters so that logs still in
 * flight are not taken for losses). The first reading is the baseline (drops from before the guard
 * are not its to count). The kernel's counters start again at zero when the tables are re-loaded:
 * the guard says so when it re-loads them (`reloaded`); a reading below the last one means someone
 * else did, and then the drops logged between that re-load and the reading are counted as lost
 * (an overcount bounded by one re-check interval). What earlier epochs left unlogged is kept.
 */
export class UnloggedTally {
  private base = 0;
  private loggedBase = 0;
  private last: number | undefined;
  private carried = 0;
  private reported = 0;
  private reloadLogged: number | undefined;

  /** The tables were re-loaded (counters at zero) when `logged` drops had been reported. */
  reloaded(logged: number): void {
    this.reloadLogged = logged;
  }

  /** Feeds one reading; returns how much the unlogged total grew (0 or more). */
  update(dropped: number, logged: number): number {
    if (this.last === undefined) {
      this.base = dropped;
      this.loggedBase = logged;
    } else if (this.reloadLogged !== undefined || dropped < this.last) {
      this.carried = this.reported;
      this.base = 0;
      this.loggedBase = this.reloadLogged ?? logged;
    }
    this.reloadLogged = undefined;
    this.last = dropped;
    const now = this.carried + Math.max(0, dropped - this.base - (logged - this.loggedBase));
    const grew = Math.max(0, now - this.reported);
    this.reported += grew;
    return grew;
  }

  get total(): number {
    return this.reported;
  }
}
