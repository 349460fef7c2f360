/**
 * Talking to the lab agent (agent-script.ts): spawn it, send commands, read its replies.
 * One agent per `lab up` (it stays as the lab's responder daemon) and one per probing run.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { AGENT_SCRIPT, setnsSyscall } from './agent-script.js';
import { writeLabFile } from './state.js';

export type ProbeProto = 'tcp' | 'udp' | 'icmp';
export type ProbeStatus = 'ok' | 'refused' | 'unreach' | 'blocked' | 'timeout' | 'error';

export interface ProbeRequest {
  readonly id: number;
  /** The namespace the probe is sent from. */
  readonly ns: string;
  readonly proto: ProbeProto;
  /** Source address to bind; undefined = the kernel's choice. */
  readonly src: string | undefined;
  readonly dst: string;
  /** tcp/udp: destination port; icmp: echo sequence. */
  readonly port: number;
  /** tcp/udp: source port; icmp: echo id. Unique per run, so a delivery can be matched to its probe. */
  readonly sport: number;
}

export interface ProbeResult {
  readonly id: number;
  readonly status: ProbeStatus;
  readonly ms: number;
  readonly detail: string | undefined;
}

/** A packet the kernel of `ns` delivered locally (it passed that namespace's input firewall). */
export interface Seen {
  readonly ns: string;
  readonly proto: ProbeProto;
  readonly src: string;
  readonly dst: string;
  /** tcp/udp source port; icmp echo id. */
  readonly sport: number;
  /** tcp/udp destination port; icmp echo sequence. */
  readonly dport: number;
}

export interface RunOutput {
  readonly results: ProbeResult[];
  readonly seen: Seen[];
}

export class Agent {
  private readonly lines: Interface;
  private readonly waiters: ((line: string) => void)[] = [];
  private readonly stderr: string[] = [];
  private exited = false;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
    });
    child.stderr.on('data', (b: Buffer) => this.stderr.push(b.toString('utf8')));
    child.on('exit', (code, signal) => {
      this.exited = true;
      // Say how it ended: a signal from outside and a Perl die are different problems.
      if (this.stderr.join('').trim() === '') this.stderr.push(signal ? `killed by ${signal}` : `exit status ${code ?? '?'}, no message`);
      for (const w of this.waiters.splice(0)) w(`err\tagent exited: ${this.stderr.join('').trim()}`);
    });
    child.stdin.on('error', () => undefined);
  }

  /** Starts an agent; `daemon` = it will outlive this process (its own session, `serve` later). */
  static start(prefix: string, opts: { daemon: boolean }): Agent {
    const script = writeLabFile(prefix, 'agent.pl', AGENT_SCRIPT);
    // As many open files as the hard limit allows (one per probe in flight); the agent sizes its
    // window from the number it is given.
    const sh = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec perl "$0" "$1" "$(ulimit -n)"';
    const child = spawn('sh', ['-c', sh, script, String(setnsSyscall())], {
      detached: opts.daemon,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new Agent(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  private next(): Promise<string> {
    if (this.exited) return Promise.resolve(`err\tagent exited: ${this.stderr.join('').trim() || 'no message'}`);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private send(fields: readonly (string | number)[]): void {
    this.child.stdin.write(`${fields.join('\t')}\n`);
  }

  /** Sends commands that each answer `ok`/`err …`; resolves with the errors by index. */
  async batch(cmds: readonly (readonly (string | number)[])[]): Promise<(string | undefined)[]> {
    const replies = cmds.map(() => this.next());
    for (const c of cmds) this.send(c);
    const out = await Promise.all(replies);
    return out.map((l) => (l === 'ok' ? undefined : l.replace(/^err\t/, '')));
  }

  /** Queues probes, runs them, and collects results and observed deliveries. */
  async run(probes: readonly ProbeRequest[], timeoutMs: number, onResult?: (n: number) => void): Promise<RunOutput> {
    const results: ProbeResult[] = [];
    const seen: Seen[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const onLine = (l: string): void => {
        const f = l.split('\t');
        if (f[0] === 'result') {
          results.push({ id: Number(f[1]), status: f[2] as ProbeStatus, ms: Number(f[3]), detail: f[4] });
          if (onResult && results.length % 500 === 0) onResult(results.length);
        } else if (f[0] === 'seen') {
          seen.push({ ns: f[1]!, proto: f[2] as ProbeProto, src: f[3]!, dst: f[4]!, sport: Number(f[5]), dport: Number(f[6]) });
        } else if (f[0] === 'done') {
          this.lines.off('line', onLine);
          if (process.env.CORDON_LAB_DEBUG) process.stderr.write(`agent run: ${probes.length} probes, sent in ${f[1]} ms, done in ${f[2]} ms\n`);
          resolve();
        }
      };
      this.lines.on('line', onLine);
      this.child.once('exit', () => reject(new Error(`the lab agent exited during the probe run: ${this.stderr.join('').trim()}`)));
    });
    const chunk: string[] = [];
    for (const p of probes) {
      chunk.push(['probe', p.id, p.ns, p.proto, p.src ?? '-', p.dst, p.port, p.sport].join('\t'));
      if (chunk.length >= 1000) this.child.stdin.write(`${chunk.splice(0).join('\n')}\n`);
    }
    if (chunk.length) this.child.stdin.write(`${chunk.join('\n')}\n`);
    this.send(['run', timeoutMs]);
    await done;
    return { results, seen };
  }

  /** Turns this agent into the lab's responder daemon and lets go of it. */
  async serve(logFile: string): Promise<void> {
    const r = this.next();
    this.send(['serve', logFile]);
    const line = await r;
    if (line !== 'ok') throw new Error(`the lab agent did not start serving: ${line}`);
    this.release();
  }

  /** Lets go of the child: pipes closed, no event-loop reference. */
  release(): void {
    this.lines.close();
    this.child.stdin.destroy();
    this.child.stdout.destroy();
    this.child.stderr.destroy();
    this.child.unref();
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send(['quit']);
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(t);
  }
}

/** Opens a log file for a detached process's stdout/stderr. */
export function openLog(path: string): { fd: number; close: () => void } {
  const fd = openSync(path, 'a', 0o600);
  return { fd, close: () => closeSync(fd) };
}
