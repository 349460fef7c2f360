/**
 * nftables target: one file per enforcing host (`HOST/cordon.nft`), loaded atomically with
 * `nft -f`, holding one table per enforcement point. Runs of rules with one verdict become
 * concatenated interval sets (src . dst . l4proto . dport), so the kernel does one lookup where
 * a naive rule set walks thousands of rules. Guests' bridge ports are turned into packet marks by
 * a bridge-family table, because a forward-hook rule only sees the bridge, not the port.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Chain, Ir, IrRule } from '../../ir/types.js';
import type { Model } from '../../model/types.js';
import { ADDR_MAX, formatIPv4 } from '../../util/ip.js';
import { ALL_FLOWS, flowEqual, NO_FLOWS, type FlowSet } from '../../util/flows.js';

/** A stand-in flow set giving exactly one box per (src, dst) pair. */
const ICMP_ONLY: FlowSet = { ...NO_FLOWS, icmp: true };
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname, inert, quotedText } from '../escape.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';
import { DisjointBoxes, PROTO_ICMP, PROTO_TCP, PROTO_UDP, ruleBoxes, type Box, type Iv } from './boxes.js';
import { emitIpv6Guard, emitL2Guard } from './ipv6.js';
import { emitNat } from './nat.js';
import { markOf, NFLOG_GROUP, nflogPrefix, portsTableName, tableName } from '../../model/names.js';

export const nftablesRenderer: Renderer = {
  name: 'nftables',
  description: 'nftables rule sets, one atomic file per host (nft -f), sets instead of linear rules',
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const ds: Diagnostic[] = [];
    const files: RenderedFile[] = [];
    for (const host of enforcingHosts(ir)) {
      if (opts.host !== undefined && opts.host !== host) continue;
      files.push({ path: `${host}/cordon.nft`, content: renderHost(ir, host, ds), secret: false });
    }
    if (opts.host !== undefined && files.length === 0) {
      ds.push(
        diag(
          Code.UNKNOWN_NAME,
          'error',
          `host '${opts.host}' enforces no cordon chain, so it gets no nftables file`,
          { file: ir.model.file },
          `hosts with chains: ${enforcingHosts(ir).join(', ') || 'none'}`,
        ),
      );
    }
    return { files, diagnostics: ds };
  },
};

export function enforcingHosts(ir: Ir): string[] {
  return [...new Set([...ir.chains.values()].map((c) => c.enforcedOn))].sort();
}

/** Every bridge port on a bridge this host owns, in a stable order, with its mark. */
export function portMarks(model: Model, host: string): Map<string, string> {
  const ports: string[] = [];
  for (const h of [...model.hosts.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const n of h.nics) {
      const net = model.networks.get(n.segment);
      if (n.port && net?.owner === host) ports.push(n.port);
    }
  }
  // The bridges' physical ports after the guests' (their marks stay as they were without any):
  // a rule bound to one (a tunnel endpoint the LAN's router forwards in) matches its mark.
  const physical = [...model.networks.values()].filter((n) => n.owner === host).flatMap((n) => n.ports);
  return new Map([...ports.sort(), ...[...new Set(physical)].sort()].map((p, i) => [p, markOf(i)]));
}

export function chainsOf(ir: Ir, host: string): Chain[] {
  return [...ir.chains.values()].filter((c) => c.enforcedOn === host).sort((a, b) => a.point.localeCompare(b.point));
}

function renderHost(ir: Ir, host: string, ds: Diagnostic[]): string {
  const e = new Emitter('\t');
  const chains = chainsOf(ir, host);
  const marks = portMarks(ir.model, host);
  const usesMarks = marks.size > 0 && chains.some((c) => c.hook === 'guest-out' || c.rules.some((r) => r.match.inPort));
  e.lines_(commented(headerLines(ir.model, `nftables rule set for ${host}: load with nft -f (atomic; replaces only cordon's tables).`), '# '));
  e.line('# Bridged guest traffic is filtered in the inet forward hook: requires br_netfilter and');
  e.line('# net.bridge.bridge-nf-call-iptables=1 on this host (cordon apply sets it).');
  e.line('# IPv6 is not modelled by cordon: all of it is dropped (tables v4only and, at the end, ipv6).');
  const tables = chains.map((c) => tableName(c.point));
  if (usesMarks) tables.unshift(portsTableName(host));
  e.gap();
  e.line("# Replace cordon's tables atomically: create-if-missing, delete, define again.");
  for (const t of tables) e.line(`table ${t.startsWith(portsTableName(host)) && usesMarks && t === portsTableName(host) ? 'bridge' : 'inet'} ${t} {}`);
  for (const t of tables) e.line(`delete table ${usesMarks && t === portsTableName(host) ? 'bridge' : 'inet'} ${t}`);
  if (usesMarks) {
    e.gap();
    e.block(`table bridge ${portsTableName(host)} {`, () => {
      e.block('chain prerouting {', () => {
        e.line('type filter hook prerouting priority -200; policy accept;');
        e.line('# The port a frame enters by, as a mark: guests can forge addresses, not ports.');
        for (const [port, mark] of marks) e.line(`iifname "${ifname(port)}" meta mark set ${mark}`);
      });
    });
  }
  emitL2Guard(e, ir.model, host);
  for (const c of chains) {
    e.gap();
    renderChain(e, ir, c, marks, ds);
  }
  emitNat(e, ir.model, host);
  emitIpv6Guard(e, host);
  return e.toString();
}

const HOOKS_OF: Record<Chain['hook'], readonly ('input' | 'output' | 'forward')[]> = {
  input: ['input'],
  output: ['output'],
  forward: ['forward'],
  'guest-out': ['forward', 'input'],
  'guest-in': ['forward', 'output'],
};

function renderChain(e: Emitter, ir: Ir, c: Chain, marks: Map<string, string>, ds: Diagnostic[]): void {
  const host = ir.model.hosts.get(c.host)!;
  e.block(`table inet ${tableName(c.point)} {`, () => {
    e.line(`# ${inert(`enforcement point ${c.point}${c.handwritten ? ' (hand-written in the spec)' : ''}; default: ${c.policy} — ${c.policyOrigin.text}`)}`);
    const body = renderRules(ir, c, marks, ds);
    // Every set of the chain, one block of generated text (names, types, numbers, addresses).
    if (body.sets !== '') e.generated(body.sets);
    e.block('chain rules {', () => {
      for (const l of body.lines) e.line(l);
    });
    for (const hook of HOOKS_OF[c.hook]) {
      e.block(`chain ${hook} {`, () => {
        e.line(`type filter hook ${hook} priority 0; policy ${c.policy};`);
        if (c.hook === 'guest-out') {
          const own = host.nics.filter((n) => n.port && marks.has(n.port)).map((n) => marks.get(n.port!)!);
          e.line(`meta mark != ${setOf(own)} accept comment "${quotedText(`not from ${c.host}`)}"`);
        } else if (c.hook === 'guest-in') {
          e.line('meta nfproto != ipv4 accept');
          // Into the guest through its bridge ports only: not to its tunnel address, whose traffic
          // reaches it inside the tunnel's transport (the verifier lets it skip guest-in, as a
          // Proxmox or nwfilter per-guest firewall would).
          const own = [...new Set(host.nics.filter((n) => n.port && marks.has(n.port)).map((n) => formatIPv4(n.address)))];
          if (own.length === 0) e.line(`accept comment "${quotedText(`${c.host} has no port on a bridge of this host`)}"`);
          else e.line(`ip daddr != ${setOf(own)} accept comment "${quotedText(`not to ${c.host}`)}"`);
        } else if (hook !== 'forward') {
          e.line('meta nfproto ipv6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept');
        }
        e.line('jump rules');
        if (c.policy === 'drop') {
          e.line(`limit rate 5/second burst 10 packets log prefix "${logPrefix(c.point, 'drop')}" level info`);
          e.line(nflogLine('', c.point, 'policy'));
          e.line('counter drop');
        } else {
          e.line('counter accept');
        }
      });
    }
  });
}

function setOf(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

/**
 * Every drop is also sent to cordon's NFLOG group for the guard, rate-limited here at the source
 * (more generously than the syslog line: the guard counts, a person reads); the prefix names the
 * point and the IR rule, so the guard finds the origin. The syslog `log prefix` lines stay as they are.
 */
const NFLOG_RATE = 'limit rate 50/second burst 100 packets';

function nflogLine(match: string, point: string, ref: number | 'policy'): string {
  return `${match} ${NFLOG_RATE} log prefix "${nflogPrefix(point, ref)}" group ${NFLOG_GROUP}`.trim();
}

function logPrefix(point: string, what: string): string {
  // The kernel keeps at most 127 bytes of a log prefix.
  return quotedText(`cordon ${what} ${point} `.slice(0, 60));
}

function bindingKey(r: IrRule): string {
  const m = r.match;
  return JSON.stringify([m.iif ?? null, m.oif ?? null, m.inPort ?? null, m.state ?? null]);
}

function bindingPrefix(r: IrRule, marks: Map<string, string>, point: string, ds: Diagnostic[], ir: Ir): string {
  const m = r.match;
  const parts: string[] = [];
  if (m.iif) parts.push(`iifname ${setOf(m.iif.map((i) => `"${ifname(i)}"`))}`);
  if (m.oif) parts.push(`oifname ${setOf(m.oif.map((i) => `"${ifname(i)}"`))}`);
  if (m.inPort) {
    const ms = m.inPort.map((p) => marks.get(p));
    if (ms.some((x) => x === undefined)) {
      ds.push(
        diag(
          Code.PORT_NOT_ON_HOST,
          'error',
          `${point}: rule from "${r.origin.text}" matches bridge port(s) ${m.inPort.join(', ')} that this host does not own`,
          {
            file: ir.model.file,
            line: r.origin.line,
            col: r.origin.col,
            path: r.origin.path,
          },
        ),
      );
    } else parts.push(`meta mark ${setOf(ms as string[])}`);
  }
  if (m.state === 'new') parts.push('ct state new');
  else if (m.state === 'established') parts.push('ct state established,related');
  return parts.join(' ');
}

/** Addresses as text, kept: big rule sets name the same few thousand addresses millions of times. */
const addrText = new Map<number, string>();

function ipText(n: number): string {
  let t = addrText.get(n);
  if (t === undefined) {
    if (addrText.size >= 1 << 16) addrText.clear();
    addrText.set(n, (t = formatIPv4(n)));
  }
  return t;
}

/** Small numbers (prefix lengths, ports) as text, made once each. */
const numText: string[] = [];

function num(n: number): string {
  return (numText[n] ??= String(n));
}

/**
 * The text of a chain's sets, as pieces joined once per chain: a line per element through the
 * emitter made several strings per element (the element, the element with its comma, the
 * indented line), all garbage after the join, and 10,000 hosts' rules have millions. The pieces
 * are mostly kept strings (addresses, numbers, separators), so the array is all that grows.
 */
const pieces: string[] = [];

/** Set elements sit three levels deep: table, set, elements. */
const ELEMENT_INDENT = '\t\t\t';
const NEXT_ELEMENT = `,\n${ELEMENT_INDENT}`;

function pushAddr([lo, hi]: Iv): void {
  if (lo === hi) {
    pieces.push(ipText(lo));
    return;
  }
  // One CIDR block exactly when the range is an aligned power-of-two block (what rangeToCidrs
  // would return alone); decided by arithmetic, as the internet's ranges split into dozens.
  const size = hi - lo + 1;
  const bits = 32 - Math.clz32(size - 1);
  if (2 ** bits === size && lo % size === 0) pieces.push(ipText(lo), '/', num(32 - bits));
  else pieces.push(ipText(lo), '-', ipText(hi));
}

function protoText(p: number): string {
  return p === PROTO_TCP ? 'tcp' : p === PROTO_UDP ? 'udp' : p === PROTO_ICMP ? 'icmp' : num(p);
}

function pushProto([lo, hi]: Iv): void {
  if (lo === hi) pieces.push(protoText(lo));
  else pieces.push(num(lo), '-', num(hi));
}

function pushPort([lo, hi]: Iv): void {
  if (lo === hi) pieces.push(num(lo));
  else pieces.push(num(lo), '-', num(hi));
}

/** What an element of each kind of set holds, after its source and destination. */
type ElementKind = 'saddr' | 'daddr' | 'addrs' | 'protos' | 'ports';

/**
 * One set, appended to `pieces` as the renderer's emitter would write it one level deep (in its
 * table): `set NAME {`, its type, flags and counter, `elements = {`, a line `ELEMENT,` per box
 * (the last without its comma), and the two closing braces. Sets after the first of a chain
 * start on a new line.
 */
function pushSet(name: string, type: string, boxes: readonly Box[], kind: ElementKind): void {
  if (pieces.length > 0) pieces.push('\n');
  pieces.push('\tset ', name, ' {\n\t\ttype ', type, '\n\t\tflags interval\n\t\tcounter\n\t\telements = {\n');
  for (let i = 0; i < boxes.length; i++) {
    const b = boxes[i]!;
    pieces.push(i === 0 ? ELEMENT_INDENT : NEXT_ELEMENT);
    if (kind === 'saddr') pushAddr(b.src);
    else if (kind === 'daddr') pushAddr(b.dst);
    else {
      pushAddr(b.src);
      pieces.push(' . ');
      pushAddr(b.dst);
      if (kind !== 'addrs') {
        pieces.push(' . ');
        pushProto(b.proto);
        if (kind === 'ports') {
          pieces.push(' . ');
          pushPort(b.port!);
        }
      }
    }
  }
  pieces.push('\n\t\t}\n\t}');
}

function verdictLines(r: IrRule, match: string, point: string): string[] {
  const lines: string[] = [];
  const lim = r.rate ? ` limit rate ${r.rate.replace('/', '/')}` : '';
  if (r.log) lines.push(`${match} limit rate 5/second burst 10 packets log prefix "${logPrefix(point, r.action)}" level info`);
  if (r.action !== 'accept') lines.push(nflogLine(match, point, r.index));
  switch (r.action) {
    case 'accept':
      lines.push(`${match}${lim} counter accept`);
      break;
    case 'drop':
      lines.push(`${match} counter drop`);
      break;
    case 'reject':
      lines.push(`${match} meta l4proto tcp counter reject with tcp reset`, `${match} counter reject`);
      break;
  }
  return lines.map((l) => l.trim());
}

/** Rules in order; runs with one verdict and binding become set lookups. */
function renderRules(ir: Ir, c: Chain, marks: Map<string, string>, ds: Diagnostic[]): { sets: string; lines: string[] } {
  pieces.length = 0;
  const lines: string[] = [];
  const rules = c.rules;
  let i = 0;
  let runNo = 0;
  while (i < rules.length) {
    const r = rules[i]!;
    if (r.role === 'stateful') {
      lines.push('ct state established,related counter accept', 'ct state invalid counter drop');
      i++;
      continue;
    }
    if (r.role === 'loopback') {
      lines.push(`${bindingPrefix(r, marks, c.point, ds, ir)} accept`);
      i++;
      continue;
    }
    // Gather a run: same action, log, rate and binding, and no rate limit (rates are per rule).
    let j = i + 1;
    const key = bindingKey(r);
    while (
      j < rules.length &&
      !r.rate &&
      !rules[j]!.rate &&
      rules[j]!.role !== 'stateful' &&
      rules[j]!.role !== 'loopback' &&
      rules[j]!.action === r.action &&
      rules[j]!.log === r.log &&
      bindingKey(rules[j]!) === key
    )
      j++;
    const run = rules.slice(i, j);
    i = j;
    runNo++;
    // Rules that match every protocol and port need only an address lookup.
    const boxes = new DisjointBoxes();
    const addrBoxes = new DisjointBoxes();
    for (const x of run) {
      if (flowEqual(x.match.flows, ALL_FLOWS)) {
        for (const b of ruleBoxes(x.match.src, x.match.dst, ICMP_ONLY)) addrBoxes.add(b);
      } else for (const b of ruleBoxes(x.match.src, x.match.dst, x.match.flows)) boxes.add(b);
    }
    const { ports, protos } = boxes.parts();
    const addrs = addrBoxes.parts().protos;
    const origins = [...new Map(run.map((x) => [`${x.origin.path}|${x.origin.text}`, x.origin])).values()];
    lines.push('');
    for (const o of origins) lines.push(`# ${inert(`${o.path ? `${o.path}: ` : ''}${o.text} (${o.file.split('/').pop()}:${o.line})`)}`);
    const prefix = bindingPrefix(r, marks, c.point, ds, ir);
    const name = `run${String(runNo).padStart(3, '0')}`;
    if (addrs.length) {
      const anySrc = addrs.every((b) => b.src[0] === 0 && b.src[1] === ADDR_MAX);
      const anyDst = addrs.every((b) => b.dst[0] === 0 && b.dst[1] === ADDR_MAX);
      if (anySrc && anyDst) {
        lines.push(...verdictLines(r, prefix, c.point));
      } else if (anySrc || anyDst) {
        const field = anySrc ? 'daddr' : 'saddr';
        pushSet(`${name}_${field}`, 'ipv4_addr', addrs, anySrc ? 'daddr' : 'saddr');
        lines.push(...verdictLines(r, `${prefix} ip ${field} @${name}_${field}`, c.point));
      } else {
        pushSet(`${name}_addrs`, 'ipv4_addr . ipv4_addr', addrs, 'addrs');
        lines.push(...verdictLines(r, `${prefix} ip saddr . ip daddr @${name}_addrs`, c.point));
      }
    }
    if (ports.length) {
      pushSet(`${name}_ports`, 'ipv4_addr . ipv4_addr . inet_proto . inet_service', ports, 'ports');
      lines.push(...verdictLines(r, `${prefix} ip saddr . ip daddr . meta l4proto . th dport @${name}_ports`, c.point));
    }
    if (protos.length) {
      pushSet(`${name}_protos`, 'ipv4_addr . ipv4_addr . inet_proto', protos, 'protos');
      lines.push(...verdictLines(r, `${prefix} ip saddr . ip daddr . meta l4proto @${name}_protos`, c.point));
    }
  }
  while (lines[0] === '') lines.shift();
  const sets = pieces.join('');
  pieces.length = 0;
  return { sets, lines };
}
