/**
 * A small iptables-save reader and evaluator, for the matches and targets cordon's iptables
 * target writes. It decides one new connection's packet the way the kernel's filter table would:
 * rules in order, jumps into user chains and back, RETURN, the built-in policy at the end. Used
 * to check the rendered rule set against the IR, and to compare what the kernel reads back.
 */
import { parseIPv4 } from '../../src/util/ip.js';

export interface SaveFile {
  readonly policies: ReadonlyMap<string, string>;
  /** User chains declared with `:NAME - [0:0]`. */
  readonly chains: ReadonlySet<string>;
  /** Rules per chain, in order, each as the text after `-A CHAIN `. */
  readonly rules: ReadonlyMap<string, readonly string[]>;
}

/**
 * Parses one table of iptables-save text (`*filter` unless told); comments, counters and COMMIT
 * are ignored, and so are the other tables (the nat table of a host that masquerades).
 */
export function parseSave(text: string, table = 'filter'): SaveFile {
  const policies = new Map<string, string>();
  const chains = new Set<string>();
  const rules = new Map<string, string[]>();
  let current = 'filter';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      current = line.slice(1);
      continue;
    }
    if (line === '' || line.startsWith('#') || line === 'COMMIT' || current !== table) continue;
    const decl = /^:(\S+) (\S+) \[\d+:\d+\]$/.exec(line);
    if (decl) {
      if (decl[2] === '-') chains.add(decl[1]!);
      else policies.set(decl[1]!, decl[2]!);
      rules.set(decl[1]!, rules.get(decl[1]!) ?? []);
      continue;
    }
    const rule = /^-A (\S+) (.*)$/.exec(line);
    if (!rule) throw new Error(`not an iptables-save line: ${line}`);
    const list = rules.get(rule[1]!) ?? [];
    list.push(rule[2]!);
    rules.set(rule[1]!, list);
  }
  return { policies, chains, rules };
}

export interface Packet {
  readonly src: number;
  readonly dst: number;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  /** Bridge port the packet entered by (physdev-in); undefined when not bridged in. */
  readonly physIn: string | undefined;
  /** 6 tcp, 17 udp, 1 icmp, anything else. */
  readonly proto: number;
  readonly dport: number | undefined;
}

const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

function tokenize(rule: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rule))) out.push(m[1] ?? m[2]!);
  return out;
}

function inPrefix(addr: number, cidr: string): boolean {
  const [a, l] = cidr.split('/');
  const base = parseIPv4(a!);
  if (base === undefined) throw new Error(`bad address ${cidr}`);
  const len = l === undefined ? 32 : Number(l);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (addr & mask) >>> 0 === (base & mask) >>> 0;
}

function portIn(port: number | undefined, spec: string): boolean {
  if (port === undefined) return false;
  return spec.split(',').some((item) => {
    const [lo, hi] = item.split(':').map(Number);
    return port >= lo! && port <= (hi ?? lo!);
  });
}

/** The u32 expression cordon writes for "every protocol but tcp, udp and icmp". */
const U32_OTHER = '0x6&0xff=0x0,0x2:0x5,0x7:0x10,0x12:0xff';

type Verdict = 'ACCEPT' | 'DROP' | 'RETURN' | undefined;

/** Whether a rule matches, and its target (with options) when it does. */
function matchRule(tokens: string[], p: Packet): string[] | undefined {
  let i = 0;
  let neg = false;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t === '!') {
      neg = true;
      i++;
      continue;
    }
    const arg = tokens[i + 1];
    let ok: boolean;
    switch (t) {
      case '-s':
        ok = inPrefix(p.src, arg!);
        i += 2;
        break;
      case '-d':
        ok = inPrefix(p.dst, arg!);
        i += 2;
        break;
      case '-i':
        ok = p.iif === arg;
        i += 2;
        break;
      case '-o':
        ok = p.oif === arg;
        i += 2;
        break;
      case '-p':
        ok = p.proto === (PROTO[arg!] ?? Number(arg));
        i += 2;
        break;
      case '-m': {
        const mod = arg!;
        i += 2;
        ok = true;
        while (i < tokens.length && tokens[i]!.startsWith('--')) {
          const opt = tokens[i]!;
          const val = tokens[i + 1]!;
          i += 2;
          switch (`${mod} ${opt}`) {
            case 'tcp --dport':
            case 'udp --dport':
            case 'multiport --dports':
              ok &&= portIn(p.dport, val);
              break;
            case 'physdev --physdev-in':
              ok &&= p.physIn === val;
              break;
            case 'conntrack --ctstate':
              ok &&= val.split(',').includes('NEW');
              break;
            case 'u32 --u32':
              if (val !== U32_OTHER) throw new Error(`unknown u32 expression ${val}`);
              ok &&= p.proto !== 6 && p.proto !== 17 && p.proto !== 1;
              break;
            case 'connmark --mark':
              // Only in the nat table, which decides nothing about filtering.
              break;
            case 'comment --comment':
            case 'limit --limit':
            case 'limit --limit-burst':
              break;
            default:
              throw new Error(`the simulator does not know -m ${mod} ${opt}`);
          }
        }
        break;
      }
      case '-j':
        return tokens.slice(i + 1);
      default:
        throw new Error(`the simulator does not know ${t}`);
    }
    if (neg ? ok : !ok) return undefined;
    neg = false;
  }
  throw new Error(`rule without target: ${tokens.join(' ')}`);
}

function runChain(f: SaveFile, chain: string, p: Packet, depth: number): Verdict {
  if (depth > 64) throw new Error('jump loop');
  for (const rule of f.rules.get(chain) ?? []) {
    const tokens = tokenize(rule);
    const gi = tokens.indexOf('-g');
    if (gi >= 0) {
      // goto: the target chain takes this chain's place, so its RETURN returns to our caller.
      if (!matchRule([...tokens.slice(0, gi), '-j', 'GOTO'], p)) continue;
      const name = tokens[gi + 1]!;
      if (!f.chains.has(name)) throw new Error(`goto to unknown chain ${name}`);
      return runChain(f, name, p, depth + 1);
    }
    const target = matchRule(tokens, p);
    if (!target) continue;
    const name = target[0]!;
    switch (name) {
      case 'ACCEPT':
      case 'DROP':
      case 'RETURN':
        return name;
      case 'REJECT':
        return 'DROP';
      case 'LOG':
      case 'CONNMARK':
        continue;
      default: {
        if (!f.chains.has(name)) throw new Error(`jump to unknown chain ${name}`);
        const v = runChain(f, name, p, depth + 1);
        if (v === 'ACCEPT' || v === 'DROP') return v;
      }
    }
  }
  return undefined;
}

/** The verdict of a built-in chain (INPUT, FORWARD, OUTPUT) for a new connection's packet. */
export function decide(f: SaveFile, builtin: string, p: Packet): 'ACCEPT' | 'DROP' {
  const v = runChain(f, builtin, p, 0);
  if (v === 'ACCEPT' || v === 'DROP') return v;
  const policy = f.policies.get(builtin);
  if (policy !== 'ACCEPT' && policy !== 'DROP') throw new Error(`no policy for ${builtin}`);
  return policy;
}
