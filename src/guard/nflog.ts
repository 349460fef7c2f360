/**
 * Reading cordon's NFLOG group in one network namespace, through ulogd2 and its JSON output.
 *
 * Why ulogd2 and not a netlink reader of our own: Node has no AF_NETLINK sockets, so a reader
 * would be a native addon or a helper binary to build and maintain; ulogd2 is the netfilter
 * project's own NFLOG consumer (libnetfilter_log), packaged by Debian, and already copes with
 * netlink buffer overruns, batching and the packet decoding (IPv4/IPv6, tcp/udp/icmp). It runs
 * inside the namespace (NFLOG groups are per namespace) with a config of its own and connects to
 * a unix socket the guard listens on (a filesystem socket crosses network namespaces); it is
 * started with a parent-death signal, so a guard killed with -9 takes its ulogd with it, and
 * nothing it does opens anything: the drops happen in the kernel whether or not anyone logs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './child.js';

/** Where Debian's ulogd2 keeps its plugins. */
export const ULOGD_PLUGIN_DIR = '/usr/lib/x86_64-linux-gnu/ulogd';

/** One logged packet as ulogd decoded it. */
export interface NflogRecord {
  readonly prefix: string;
  /** Kernel timestamp of the log, epoch ms. */
  readonly timeMs: number;
  readonly src: string;
  readonly dst: string;
  /** IP protocol number. */
  readonly proto: number;
  readonly sport: number | undefined;
  readonly dport: number | undefined;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
}

/** The ulogd configuration: one stack NFLOG → decode → JSON on a unix socket. */
export function ulogdConfig(o: { group: number; socket: string; logfile: string; pluginDir?: string }): string {
  const dir = o.pluginDir ?? ULOGD_PLUGIN_DIR;
  const plugins = ['inppkt_NFLOG', 'raw2packet_BASE', 'filter_IFINDEX', 'filter_IP2STR', 'output_JSON'];
  return [
    '# Written by cordon guard for one network namespace; removed when the guard stops.',
    '[global]',
    `logfile="${o.logfile}"`,
    'loglevel=5',
    ...plugins.map((p) => `plugin="${dir}/ulogd_${p}.so"`),
    'stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,json1:JSON',
    '',
    '[log1]',
    `group=${o.group}`,
    // Hand every packet over at once: the kernel otherwise batches up to 100 packets or 1 s (its defaults). The key is ulogd's `netlink_qthreshold` (a bare `qthreshold` is silently ignored).
    'netlink_qthreshold=1',
    '',
    '[json1]',
    'mode="unix"',
    `file="${o.socket}"`,
    'sync=1',
    '',
  ].join('\n');
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** One JSON line of ulogd's output as a record; undefined for lines that are not an IPv4 packet log. */
export function parseUlogdLine(line: string): NflogRecord | undefined {
  let o: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    o = v as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const src = str(o.src_ip);
  const dst = str(o.dest_ip);
  const proto = num(o['ip.protocol']);
  if (src === undefined || dst === undefined || proto === undefined) return undefined;
  const sec = num(o['oob.time.sec']);
  const usec = num(o['oob.time.usec']) ?? 0;
  return {
    prefix: typeof o['oob.prefix'] === 'string' ? o['oob.prefix'] : '',
    timeMs: sec === undefined ? Date.now() : sec * 1000 + Math.floor(usec / 1000),
    src,
    dst,
    proto,
    sport: num(o.src_port),
    dport: num(o.dest_port),
    iif: str(o['oob.in']),
    oif: str(o['oob.out']),
  };
}

export interface NflogReaderOptions {
  /** The namespace to read in; undefined = the machine's own. */
  readonly netns: string | undefined;
  readonly group: number;
  readonly onRecord: (r: NflogRecord) => void;
  /** ulogd stopped on its own (its log's last lines). */
  readonly onExit?: (why: string) => void;
  /** How long ulogd may take to connect (default 5000 ms). */
  readonly startTimeoutMs?: number;
}

/** A running ulogd in one namespace feeding records to the guard. */
export class NflogReader {
  private stopping = false;

  private constructor(
    private readonly dir: string,
    private readonly server: Server,
    private readonly child: ChildProcess,
    private readonly conn: Socket,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts ulogd in the namespace and waits until it is connected and bound to the group. */
  static async start(o: NflogReaderOptions): Promise<NflogReader> {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-guard-'));
    const socket = join(dir, 'events.sock');
    const logfile = join(dir, 'ulogd.log');
    const conf = join(dir, 'ulogd.conf');
    writeFileSync(conf, ulogdConfig({ group: o.group, socket, logfile }), { mode: 0o600 });
    const server = createServer();
    const logTail = (): string => {
      try {
        return readFileSync(logfile, 'utf8').trim().split('\n').slice(-3).join(' | ');
      } catch {
        return 'no log';
      }
    };
    let child: ChildProcess | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socket, () => resolve());
      });
      // setpriv --pdeathsig: ulogd dies with the guard, whatever kills the guard.
      const argv = ['setpriv', '--pdeathsig', 'KILL', 'ulogd', '-c', conf];
      const full = o.netns === undefined ? argv : ['ip', 'netns', 'exec', o.netns, ...argv];
      const proc = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      // ulogd writes its reasons to its log file; its stderr only points there.
      proc.stderr?.resume();
      const conn = await new Promise<Socket>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`ulogd did not connect within ${o.startTimeoutMs ?? 5000} ms: ${logTail()}`)),
          o.startTimeoutMs ?? 5000,
        );
        proc.once('exit', (code) => {
          clearTimeout(timer);
          reject(
            new Error(
              `ulogd exited (code ${code ?? 'signal'}) before it connected: ${logTail()} (is another NFLOG reader bound to group ${o.group} in this namespace, e.g. another guard?)`,
            ),
          );
        });
        proc.once('error', (e) => {
          clearTimeout(timer);
          reject(new Error(`ulogd cannot start: ${e.message} (install ulogd2 and ulogd2-json)`));
        });
        server.once('connection', (s) => {
          clearTimeout(timer);
          resolve(s);
        });
      });
      const reader = new NflogReader(dir, server, proc, conn);
      let buf = '';
      conn.setEncoding('utf8');
      conn.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const r = parseUlogdLine(line);
          if (r) o.onRecord(r);
        }
      });
      conn.on('error', () => undefined);
      proc.removeAllListeners('exit');
      proc.on('exit', (code, signal) => {
        if (reader.stopping) return;
        const why = `ulogd exited (${signal ?? `code ${code}`}): ${logTail()}`;
        // Dead on its own: release what it used (socket, files) before telling the owner.
        void reader.stop().then(() => o.onExit?.(why));
      });
      return reader;
    } catch (e) {
      child?.kill('SIGKILL');
      server.close();
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Stops ulogd and removes its files; safe to repeat. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await stopChild(this.child);
    this.conn.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
