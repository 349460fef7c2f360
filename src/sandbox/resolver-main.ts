/**
 * The sandbox's resolver, as a process: started by the network stage (stages/network.ts) with `ip netns exec HOST node … CONFIG`
 * on the veth's host end (port 53), so it can reach the upstream while the sandbox cannot; rootless
 * (stages/rootless.ts), in the user's own namespace on 127.0.0.1:PORT, which pasta maps to the sandbox's 127.0.0.1:53. It
 * answers only allowlisted names (A records; other types of an allowlisted name get an empty
 * answer, other names NXDOMAIN), adds every address it hands out to the sandbox's nft sets
 * *before* replying, and appends refused names to a JSON-lines file that the command stage reads at exit.
 */
import { createSocket } from 'node:dgram';
import { appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { cidrRange, parseCidr } from '../util/ip.js';
import { addressAllowed, buildReply, parseAnswers, parseQuery, RCODE, rulesFor, type DomainRule } from './dns.js';

export interface ResolverConfig {
  readonly listen: string;
  readonly port: number;
  readonly upstream: string;
  readonly upstreamPort: number;
  readonly rules: readonly DomainRule[];
  /** Explicit CIDR allows: private answers inside them are kept. */
  readonly explicit: readonly string[];
  /** The command that runs nft in the sandbox's namespace (`ip netns exec NS nft`; rootless, inside it: `nft`) and its table, where answers are added. */
  readonly nft: readonly string[];
  readonly table: string;
  readonly eventsFile: string;
}

function nft(argv: readonly string[], cmd: string): Promise<boolean> {
  return new Promise((res) => {
    const c = spawn(argv[0]!, [...argv.slice(1), cmd], { stdio: 'ignore' });
    c.on('error', () => res(false));
    c.on('exit', (code) => res(code === 0));
  });
}

function forward(cfg: ResolverConfig, msg: Buffer): Promise<Buffer | undefined> {
  return new Promise((res) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      res(undefined);
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      res(m);
    });
    s.on('error', () => {
      clearTimeout(t);
      s.close();
      res(undefined);
    });
    s.send(msg, cfg.upstreamPort, cfg.upstream);
  });
}

/**
 * Starts the resolver in this process; resolves, once it listens, with the function that stops
 * it. Root: in a process of its own (this file's main, on the veth's host end); rootless: inside
 * cordon itself, which runs in the same namespace (no second Node to start).
 */
export function startResolver(cfg: ResolverConfig): Promise<() => void> {
  const explicit = cfg.explicit.map((c) => cidrRange(parseCidr(c, false)!));
  const sock = createSocket('udp4');
  const event = (name: string, rule: string): void => {
    appendFileSync(
      cfg.eventsFile,
      `${JSON.stringify({ time: new Date().toISOString(), destination: name, proto: 'dns', port: 53, rule, packets: 1, bytes: 0 })}\n`,
    );
  };
  sock.on('message', (msg, from) => {
    // A failure answering one query (a bad packet, a socket closed at teardown) must never end
    // the process: inside cordon, that would be the run.
    (async () => {
      const q = parseQuery(msg);
      if (!q) return;
      const reply = (b: Buffer): void => sock.send(b, from.port, from.address);
      const rules = rulesFor(q.name, cfg.rules);
      if (rules.length === 0) {
        event(q.name, 'dns-not-allowlisted');
        reply(buildReply(q, RCODE.nxDomain));
        return;
      }
      if (q.qtype !== 1 || q.qclass !== 1) {
        reply(buildReply(q, RCODE.noError));
        return;
      }
      const up = await forward(cfg, msg);
      const a = up ? parseAnswers(up) : undefined;
      if (!a) {
        reply(buildReply(q, RCODE.servFail));
        return;
      }
      const kept = a.answers.filter((x) => addressAllowed(x.ip, explicit));
      for (const x of a.answers) if (!kept.includes(x)) event(`${q.name} → ${x.ip}`, 'dns-private-answer');
      const elems: string[] = [];
      for (const x of kept) {
        for (const r of rules) {
          elems.push(r.port === undefined ? `add element inet ${cfg.table} dom4 { ${x.ip} }` : `add element inet ${cfg.table} dom4p { ${x.ip} . ${r.port} }`);
        }
      }
      if (elems.length > 0 && !(await nft(cfg.nft, elems.join('; ')))) {
        reply(buildReply(q, RCODE.servFail));
        return;
      }
      reply(
        buildReply(
          q,
          kept.length === 0 && a.answers.length > 0 ? RCODE.nxDomain : a.rcode,
          kept.map((x) => ({ ip: x.ip, ttl: Math.min(x.ttl, 300) })),
        ),
      );
    })().catch(() => undefined);
  });
  return new Promise((res, rej) => {
    sock.once('error', rej);
    sock.bind(cfg.port, cfg.listen, () => {
      sock.off('error', rej);
      sock.on('error', () => undefined);
      res(() => {
        try {
          sock.close();
        } catch {
          // closed already
        }
      });
    });
  });
}

const arg = process.argv[2];
if (arg !== undefined && process.argv[1] !== undefined && /resolver-main\.[jt]s$/.test(process.argv[1])) {
  startResolver(JSON.parse(arg) as ResolverConfig).then(
    () => process.stdout.write('ready\n'),
    (e: Error) => {
      process.stderr.write(`resolver: ${e.message}\n`);
      process.exit(1);
    },
  );
  // Ends with its parent: teardown kills it by PID; a closed stdin means the parent is gone.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
