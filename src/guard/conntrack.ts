/**
 * Accepted connections, from the kernel's connection tracker: `conntrack -E -e NEW` inside the
 * watched namespace prints one line per connection the rules let through. The tracker reports a
 * connection when it is confirmed, which happens only after every filter hook accepted its first
 * packet, so a dropped attempt never shows up here (those come from NFLOG): allowed and blocked
 * are counted from two sources that do not overlap.
 *
 * Started with a parent-death signal, like ulogd and nft monitor; it only reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopChild } from './child.js';

/** One new connection, as its original direction. */
export interface ConntrackNew {
  readonly proto: string;
  readonly src: string;
  readonly dst: string;
  readonly dport: number | undefined;
}

/**
 * One line of `conntrack -E` output (`[NEW] tcp 6 120 SYN_SENT src=… dst=… sport=… dport=… …`)
 * as a new connection; undefined for anything else (other event types, IPv6, the closing summary).
 */
export function parseConntrackLine(line: string): ConntrackNew | undefined {
  const m = /^\s*\[NEW\]\s+([a-z0-9]+)\s+\d+\s.*?\bsrc=(\d{1,3}(?:\.\d{1,3}){3}) dst=(\d{1,3}(?:\.\d{1,3}){3})(?: sport=\d+ dport=(\d+))?/.exec(line);
  if (!m) return undefined;
  return { proto: m[1]!, src: m[2]!, dst: m[3]!, dport: m[4] === undefined ? undefined : Number(m[4]) };
}

export class ConntrackReader {
  private stopped = false;
  private constructor(private readonly child: ChildProcess) {}

  /** Starts `conntrack -E -e NEW` in the namespace; `onExit` is told when it stops on its own. */
  static start(netns: string | undefined, onNew: (c: ConntrackNew) => void, onExit: (why: string) => void): ConntrackReader {
    // stdbuf: one line per event as it happens, not a 4 KiB block when the pipe's buffer fills.
    const argv = ['setpriv', '--pdeathsig', 'KILL', 'stdbuf', '-oL', 'conntrack', '-E', '-e', 'NEW'];
    const full = netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv];
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = new ConntrackReader(child);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const c = parseConntrackLine(line);
      if (c) onNew(c);
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-500)));
    child.on('error', (e) => onExit(`conntrack cannot start: ${e.message} (install conntrack)`));
    child.on('exit', (code, sig) => {
      if (!r.stopped) onExit(`conntrack -E exited (${sig ?? `code ${code}`}) ${err.trim()}`);
    });
    return r;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopChild(this.child);
  }
}
