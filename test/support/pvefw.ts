/**
 * The Proxmox VE firewall file format, as a checker: sections, options, aliases, IP sets,
 * security groups and rules, with the constraints both readers enforce. Sources: the Proxmox VE
 * admin guide ("Proxmox VE Firewall": configuration files, rules syntax, IP aliases, IP sets,
 * security groups, nftables), pve-firewall's PVE/Firewall.pm (parse_fw_rule, verify_rule,
 * parse_address_list, parse_port_name_number_or_range, the option parsers, the macro table) and
 * proxmox-ve-rs's proxmox-ve-config (firewall/common.rs, rule.rs, rule_match.rs, host.rs,
 * guest.rs, cluster.rs: the nftables proxmox-firewall's reader). Where the two differ, the check
 * takes the stricter reading, so a file that passes is read the same way by both.
 *
 * Also a small evaluator: which rule (expanding groups and macros) decides a new connection's
 * packet in one direction of one file, else the policy.
 */
import { MACROS as SHARED_MACROS } from '../../src/import/proxmox/macros.js';
import { parseIPv4 } from '../../src/util/ip.js';

export type FwKind = 'cluster' | 'host' | 'vm';
export type FwImpl = 'pve-firewall' | 'proxmox-firewall';

export interface FwRule {
  readonly line: number;
  readonly kind: 'match' | 'group';
  readonly disabled: boolean;
  readonly dir: 'IN' | 'OUT' | 'FORWARD' | undefined;
  readonly action: string;
  readonly macro: string | undefined;
  /** Group rules: the group's name. */
  readonly group: string | undefined;
  readonly opts: ReadonlyMap<string, string>;
  readonly comment: string | undefined;
}

export interface FwFile {
  readonly options: ReadonlyMap<string, string>;
  readonly aliases: ReadonlyMap<string, string>;
  readonly ipsets: ReadonlyMap<string, readonly string[]>;
  readonly groups: ReadonlyMap<string, readonly FwRule[]>;
  readonly rules: readonly FwRule[];
  readonly errors: readonly string[];
}

const NAME = /^[A-Za-z][A-Za-z0-9\-_]+$/;
const LOGLEVEL = /^(emerg|alert|crit|err|warning|notice|info|debug|nolog)$/;
const ACTION = /^(ACCEPT|DROP|REJECT)$/;
const BOOL = /^(0|1)$/;
const POLICY = /^(ACCEPT|DROP|REJECT)$/;

/** pve-firewall's macro table, the entries cordon may use, with the flows each stands for (shared with the importer). */
export const MACROS: Readonly<Record<string, readonly { proto: string; dport: string }[]>> = {
  SSH: SHARED_MACROS.SSH!,
  HTTP: SHARED_MACROS.HTTP!,
  HTTPS: SHARED_MACROS.HTTPS!,
  Web: SHARED_MACROS.Web!,
  DNS: SHARED_MACROS.DNS!,
};

const PROTOS_WITH_PORTS = new Set(['tcp', 'udp', 'udplite', 'dccp', 'sctp', '6', '17', '136', '33', '132']);
const KNOWN_PROTOS = new Set(['tcp', 'udp', 'icmp', 'udplite', 'dccp', 'sctp', 'gre', 'esp', 'ah', 'ipv6-icmp', 'icmpv6']);

function optionRules(kind: FwKind, impl: FwImpl): Record<string, RegExp> {
  switch (kind) {
    case 'cluster':
      return {
        enable: /^\d+$/,
        ebtables: BOOL,
        policy_in: POLICY,
        policy_out: POLICY,
        log_ratelimit: /^\S+$/,
        // Only the nftables reader knows a forward policy.
        ...(impl === 'proxmox-firewall' ? { policy_forward: POLICY } : {}),
      };
    case 'host':
      return {
        enable: BOOL,
        nosmurfs: BOOL,
        tcpflags: BOOL,
        ndp: BOOL,
        log_nf_conntrack: BOOL,
        nf_conntrack_allow_invalid: BOOL,
        protection_synflood: BOOL,
        nftables: BOOL,
        log_level_in: LOGLEVEL,
        log_level_out: LOGLEVEL,
        tcp_flags_log_level: LOGLEVEL,
        smurf_log_level: LOGLEVEL,
        nf_conntrack_max: /^\d+$/,
        nf_conntrack_tcp_timeout_established: /^\d+$/,
        nf_conntrack_tcp_timeout_syn_recv: /^\d+$/,
        protection_synflood_rate: /^\d+$/,
        protection_synflood_burst: /^\d+$/,
        ...(impl === 'proxmox-firewall' ? { log_level_forward: LOGLEVEL } : {}),
      };
    case 'vm':
      return {
        enable: BOOL,
        dhcp: BOOL,
        ndp: BOOL,
        radv: BOOL,
        macfilter: BOOL,
        ipfilter: BOOL,
        ips: BOOL,
        log_level_in: LOGLEVEL,
        log_level_out: LOGLEVEL,
        policy_in: POLICY,
        policy_out: POLICY,
        ips_queues: /^\d+(:\d+)?$/,
      };
  }
}

function validAddr(a: string): boolean {
  const [ip, len, ...rest] = a.split('/');
  if (rest.length || ip === undefined || parseIPv4(ip) === undefined) return false;
  return len === undefined || (/^\d{1,2}$/.test(len) && Number(len) <= 32);
}

/** An address spec of -source/-dest: `+set`, `alias`, one range `a-b`, or a list of addresses/prefixes. */
function checkAddrSpec(v: string, err: (m: string) => void): void {
  if (v.length > 512) err(`address spec longer than 512 characters`);
  if (v.startsWith('+')) {
    if (!/^\+(?:(?:dc|guest)\/)?[A-Za-z][A-Za-z0-9\-_]+$/.test(v)) err(`bad IP set reference ${v}`);
    return;
  }
  if (/^(?:(?:dc|guest)\/)?[A-Za-z][A-Za-z0-9\-_]+$/.test(v)) return;
  const items = v.split(',');
  if (items.some((x) => x === '')) err(`extraneous commas in ${v}`);
  const ranges = items.filter((x) => x.includes('-'));
  if (ranges.length && items.length > 1) err(`a range cannot be part of a list: ${v}`);
  for (const x of items) {
    if (x.includes('-')) {
      const [lo, hi, ...rest] = x.split('-');
      const a = parseIPv4(lo ?? '');
      const b = parseIPv4(hi ?? '');
      if (rest.length || a === undefined || b === undefined || a > b) err(`bad range ${x}`);
    } else if (!validAddr(x)) err(`bad address ${x}`);
  }
}

function checkPorts(v: string, err: (m: string) => void): void {
  let count = 0;
  const items = v.split(',');
  if (items.some((x) => x === '')) err(`extraneous commas in ${v}`);
  for (const x of items) {
    const m = /^(\d+)(?::(\d+))?$/.exec(x);
    if (!m) {
      err(`bad port ${x}`);
      continue;
    }
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo > 65535 || hi > 65535) err(`port out of range in ${x}`);
    if (lo > hi) err(`backwards range ${x}`);
    count += m[2] === undefined ? 1 : 2;
  }
  if (count > 15) err(`too many entries in port list (${count} > 15): ${v}`);
}

function parseRule(text: string, lineNo: number, kind: FwKind | 'group', impl: FwImpl, err: (m: string) => void): FwRule | undefined {
  let line = text;
  let comment: string | undefined;
  const hash = line.indexOf('#');
  if (hash >= 0) {
    // pve-firewall takes the comment from the first '#', proxmox-firewall from the last: one only.
    if (line.indexOf('#', hash + 1) >= 0) err('more than one # in a rule: the two readers would split it differently');
    comment = line.slice(hash + 1).trim();
    line = line.slice(0, hash).trim();
  }
  const disabled = line.startsWith('|');
  if (disabled) line = line.slice(1).trim();
  const words = line.split(/\s+/);
  const [head, second, ...rest] = words;
  if (head === undefined || second === undefined) {
    err(`incomplete rule: ${text}`);
    return undefined;
  }
  if (head.toUpperCase() === 'GROUP') {
    if (kind === 'group') err('a security group cannot hold a GROUP rule');
    if (!NAME.test(second) || second.length > 18) err(`bad security group name ${second}`);
    const opts = new Map<string, string>();
    for (let i = 0; i < rest.length; i += 2) {
      if (rest[i] !== '-i' || rest[i + 1] === undefined) err(`a GROUP rule takes only -i: ${text}`);
      else opts.set('i', rest[i + 1]!);
    }
    return { line: lineNo, kind: 'group', disabled, dir: undefined, action: second, macro: undefined, group: second, opts, comment };
  }
  const dir = head.toUpperCase() as FwRule['dir'];
  const allowed = kind === 'vm' ? ['IN', 'OUT'] : ['IN', 'OUT', 'FORWARD'];
  if (!allowed.includes(dir!)) err(`direction ${head} is not allowed in a ${kind} file`);
  if (dir === 'FORWARD' && impl !== 'proxmox-firewall') err('FORWARD rules are ignored by pve-firewall (Proxmox VE docs)');
  let action = second;
  let macro: string | undefined;
  const mm = /^(\S+)\((ACCEPT|DROP|REJECT)\)$/.exec(second);
  if (mm) {
    macro = mm[1]!;
    action = mm[2]!;
    if (MACROS[macro] === undefined) err(`macro ${macro} is not one cordon knows from pve-firewall's table`);
  } else if (!ACTION.test(action)) err(`unknown action ${second}`);
  const opts = new Map<string, string>();
  const NAMES: Record<string, string> = {
    '-i': 'i',
    '-p': 'p',
    '-dport': 'dport',
    '-sport': 'sport',
    '-source': 'source',
    '-dest': 'dest',
    '-log': 'log',
    '-icmp-type': 'icmp-type',
  };
  for (let i = 0; i < rest.length; i += 2) {
    const k = NAMES[rest[i]!];
    const v = rest[i + 1];
    if (k === undefined) {
      err(`unknown option ${rest[i]} (pve-firewall reads -i, -p, -dport, -sport, -source, -dest, -log, -icmp-type)`);
      continue;
    }
    if (v === undefined || v.startsWith('-')) {
      err(`option ${rest[i]} without a value`);
      continue;
    }
    if (opts.has(k)) err(`option ${rest[i]} twice`);
    opts.set(k, v);
  }
  const iface = opts.get('i');
  if (iface !== undefined) {
    if (kind === 'vm' && !/^net\d+$/.test(iface)) err(`interface ${iface}: a guest's rules name its devices net<N>`);
    if (kind !== 'vm' && !/^[a-z][a-z0-9_]{1,20}([:.]\d+)?$/i.test(iface)) err(`interface ${iface} is not a pve-iface name`);
  }
  const proto = opts.get('p');
  if (proto !== undefined && !KNOWN_PROTOS.has(proto) && !/^\d+$/.test(proto)) err(`unknown protocol ${proto}`);
  if (macro && (proto !== undefined || opts.has('dport'))) err(`macro ${macro} already sets the protocol and port`);
  for (const k of ['dport', 'sport'] as const) {
    const v = opts.get(k);
    if (v === undefined) continue;
    if (proto === undefined) err(`-${k} needs -p`);
    else if (!PROTOS_WITH_PORTS.has(proto)) err(`protocol ${proto} has no ports`);
    checkPorts(v, err);
  }
  if (opts.has('icmp-type') && proto !== 'icmp' && proto !== 'icmpv6' && proto !== 'ipv6-icmp') err('-icmp-type needs -p icmp');
  for (const k of ['source', 'dest'] as const) {
    const v = opts.get(k);
    if (v !== undefined) checkAddrSpec(v, err);
  }
  const log = opts.get('log');
  if (log !== undefined && !LOGLEVEL.test(log)) err(`bad log level ${log}`);
  return { line: lineNo, kind: 'match', disabled, dir, action, macro, group: undefined, opts, comment };
}

/** Parses one .fw file; every line must be a comment, a section header or valid in its section. */
export function parseFw(text: string, kind: FwKind, impl: FwImpl): FwFile {
  const errors: string[] = [];
  const options = new Map<string, string>();
  const aliases = new Map<string, string>();
  const ipsets = new Map<string, string[]>();
  const groups = new Map<string, FwRule[]>();
  const rules: FwRule[] = [];
  const optRules = optionRules(kind, impl);
  let section: { kind: 'options' | 'aliases' | 'rules' | 'ipset' | 'group'; name: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const err = (m: string): void => void errors.push(`line ${lineNo}: ${m}: ${raw}`);
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[(\w+)(?:\s+(\S+))?\]\s*(?:#\s*(.*?)\s*)?$/.exec(line);
    if (line.startsWith('[')) {
      if (!header) return err('bad section header');
      const word = header[1]!.toLowerCase();
      const name = header[2];
      const allowed =
        kind === 'cluster'
          ? ['options', 'aliases', 'rules', 'ipset', 'group']
          : kind === 'host'
            ? ['options', 'rules']
            : ['options', 'aliases', 'rules', 'ipset'];
      if (!allowed.includes(word)) return err(`section [${header[1]}] is not allowed in a ${kind} file`);
      if (word === 'ipset' || word === 'group') {
        const max = word === 'ipset' ? 64 : 18;
        if (name === undefined || !NAME.test(name) || name.length > max) return err(`bad ${word} name`);
        const map = word === 'ipset' ? ipsets : groups;
        if (map.has(name.toLowerCase())) err(`${word} ${name} twice`);
        if (word === 'ipset') ipsets.set(name.toLowerCase(), []);
        else groups.set(name.toLowerCase(), []);
        section = { kind: word, name: name.toLowerCase() };
      } else {
        if (name !== undefined || header[3] !== undefined) return err(`[${header[1]}] takes no name or comment`);
        section = { kind: word as 'options' | 'aliases' | 'rules', name: '' };
      }
      return;
    }
    if (!section) return err('line outside any section');
    switch (section.kind) {
      case 'options': {
        const m = /^([a-z_]+):\s*(\S+)$/.exec(line);
        if (!m) return err('bad option line');
        const rule = optRules[m[1]!];
        if (!rule) return err(`option ${m[1]} is not a ${kind} option${impl === 'pve-firewall' ? ' pve-firewall reads' : ''}`);
        if (!rule.test(m[2]!)) return err(`bad value for ${m[1]}`);
        if (options.has(m[1]!)) err(`option ${m[1]} twice`);
        options.set(m[1]!, m[2]!);
        return;
      }
      case 'aliases': {
        const m = /^(\S+)\s+(\S+)\s*(?:#.*)?$/.exec(line);
        if (!m) return err('bad alias line');
        if (!NAME.test(m[1]!) || m[1]!.length > 64) err(`bad alias name ${m[1]}`);
        if (!validAddr(m[2]!)) err(`bad alias address ${m[2]}`);
        if (aliases.has(m[1]!.toLowerCase())) err(`alias ${m[1]} twice (aliases are case-insensitive)`);
        aliases.set(m[1]!.toLowerCase(), m[2]!);
        return;
      }
      case 'ipset': {
        const m = /^(!)?\s*(\S+)\s*(?:#.*)?$/.exec(line);
        if (!m) return err('bad IP set entry');
        if (!validAddr(m[2]!)) err(`IP set entry ${m[2]} is not an address or prefix`);
        if (/\/0+$/.test(m[2]!)) err('a zero prefix is not allowed in IP set entries');
        const list = ipsets.get(section.name)!;
        if (list.includes(m[2]!)) err(`duplicate IP set entry ${m[2]}`);
        list.push(m[2]!);
        return;
      }
      case 'rules':
      case 'group': {
        const r = parseRule(line, lineNo, section.kind === 'group' ? 'group' : kind, impl, err);
        if (!r) return;
        if (section.kind === 'group') groups.get(section.name)!.push(r);
        else rules.push(r);
        return;
      }
    }
  });
  return { options, aliases, ipsets, groups, rules, errors };
}

/** References that do not resolve: dc/ names against cluster.fw, guest/ names and ipfilter sets against the file. */
export function unresolved(f: FwFile, dc: FwFile): string[] {
  const out: string[] = [];
  const check = (r: FwRule): void => {
    if (r.kind === 'group') {
      if (!dc.groups.has(r.group!.toLowerCase())) out.push(`line ${r.line}: no security group ${r.group} in cluster.fw`);
      return;
    }
    for (const k of ['source', 'dest']) {
      const v = r.opts.get(k);
      if (v === undefined) continue;
      let m = /^\+(dc|guest)\/(.+)$/.exec(v);
      if (m) {
        const set = (m[1] === 'dc' ? dc : f).ipsets;
        if (!set.has(m[2]!.toLowerCase())) out.push(`line ${r.line}: no IP set ${v}`);
        continue;
      }
      m = /^(dc|guest)\/(.+)$/.exec(v);
      if (m) {
        const set = (m[1] === 'dc' ? dc : f).aliases;
        if (!set.has(m[2]!.toLowerCase())) out.push(`line ${r.line}: no alias ${v}`);
        continue;
      }
      if (/^[A-Za-z]/.test(v) || v.startsWith('+')) out.push(`line ${r.line}: unscoped name ${v} (proxmox-firewall reads only dc/ and guest/ names)`);
    }
  };
  for (const r of f.rules) check(r);
  for (const rs of f.groups.values()) for (const r of rs) check(r);
  return out;
}

// --- evaluation -----------------------------------------------------------------------------

export interface FwPacket {
  readonly src: number;
  readonly dst: number;
  /** `-i`: for IN and FORWARD the input interface (netN in a guest file), for OUT the output one. */
  readonly iface: string | undefined;
  readonly proto: number;
  readonly dport: number | undefined;
}

function addrIn(a: number, spec: string, f: FwFile, dc: FwFile): boolean {
  let m = /^\+(dc|guest)\/(.+)$/.exec(spec);
  if (m) return ((m[1] === 'dc' ? dc : f).ipsets.get(m[2]!.toLowerCase()) ?? []).some((e) => addrIn(a, e, f, dc));
  m = /^(dc|guest)\/(.+)$/.exec(spec);
  if (m) return addrIn(a, (m[1] === 'dc' ? dc : f).aliases.get(m[2]!.toLowerCase())!, f, dc);
  return spec.split(',').some((x) => {
    if (x.includes('-')) {
      const [lo, hi] = x.split('-');
      return a >= parseIPv4(lo!)! && a <= parseIPv4(hi!)!;
    }
    const [ip, l] = x.split('/');
    const len = l === undefined ? 32 : Number(l);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return (a & mask) >>> 0 === (parseIPv4(ip!)! & mask) >>> 0;
  });
}

const PROTO_NUM: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

function ruleMatches(r: FwRule, p: FwPacket, f: FwFile, dc: FwFile): boolean {
  const iface = r.opts.get('i');
  if (iface !== undefined && iface !== p.iface) return false;
  const src = r.opts.get('source');
  if (src !== undefined && !addrIn(p.src, src, f, dc)) return false;
  const dst = r.opts.get('dest');
  if (dst !== undefined && !addrIn(p.dst, dst, f, dc)) return false;
  const variants = r.macro ? MACROS[r.macro]! : [{ proto: r.opts.get('p'), dport: r.opts.get('dport') }];
  return variants.some((v) => {
    if (v.proto !== undefined && PROTO_NUM[v.proto] !== p.proto) return false;
    if (v.dport !== undefined) {
      if (p.dport === undefined) return false;
      return v.dport.split(',').some((x) => {
        const [lo, hi] = x.split(':').map(Number);
        return p.dport! >= lo! && p.dport! <= (hi ?? lo!);
      });
    }
    return true;
  });
}

/** The first rule of this direction that matches (through groups), or the policy. */
export function fwDecide(
  f: FwFile,
  dc: FwFile,
  dir: 'IN' | 'OUT' | 'FORWARD',
  policy: string,
  p: FwPacket,
): { verdict: 'ACCEPT' | 'DROP'; line: number | undefined } {
  const walk = (rules: readonly FwRule[], scope: FwFile): { verdict: 'ACCEPT' | 'DROP'; line: number } | undefined => {
    for (const r of rules) {
      if (r.disabled) continue;
      if (r.kind === 'group') {
        const iface = r.opts.get('i');
        if (iface !== undefined && iface !== p.iface) continue;
        const hit = walk(dc.groups.get(r.group!.toLowerCase()) ?? [], scope);
        if (hit) return hit;
        continue;
      }
      if (r.dir !== dir || !ruleMatches(r, p, scope, dc)) continue;
      return { verdict: r.action === 'ACCEPT' ? 'ACCEPT' : 'DROP', line: r.line };
    }
    return undefined;
  };
  return walk(f.rules, f) ?? { verdict: policy === 'ACCEPT' ? 'ACCEPT' : 'DROP', line: undefined };
}
