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
import { localeOrder } from '../../util/collate.js';
import { ADDR_MAX, formatIPv4 } from '../../util/ip.js';
import { ALL_FLOWS, flowEqual, NO_FLOWS, type FlowSet } from '../../util/flows.js';

/** A stand-in flow set giving exactly one box per (src, dst) pair. */
const ICMP_ONLY: FlowSet = { ...NO_FLOWS, icmp: true };
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname, inert, quotedText } from '../escape.js';
import { ByteOut } from '../bytes.js';
import type { FileSink, RenderOptions, RenderResult, RenderedFile, StreamedFile, StreamingRenderer } from '../types.js';
import { DisjointBoxes, PROTO_ICMP, PROTO_TCP, PROTO_UDP, ruleBoxes, ruleBoxesDisjoint, splitBoxes, type Box, type Iv } from './boxes.js';
import { emitIpv6Guard, emitL2Guard } from './ipv6.js';
import { emitNat } from './nat.js';
import { markOf, NFLOG_GROUP, nflogPrefix, portsTableName, tableName } from '../../model/names.js';

export const nftablesRenderer: StreamingRenderer = {
  name: 'nftables',
  description: 'nftables rule sets, one atomic file per host (nft -f), sets instead of linear rules',
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const ds: Diagnostic[] = [];
    const files: RenderedFile[] = [];
    for (const host of hostsOf(ir, opts)) {
      const e = new Emitter('\t');
      renderHost(e, ir, host, ds);
      files.push({ path: fileOf(host), content: e.toString(), secret: false });
    }
    if (files.length === 0) noFile(ir, opts, ds);
    return { files, diagnostics: ds };
  },
  renderTo(ir: Ir, opts: RenderOptions, open: (file: StreamedFile) => FileSink) {
    const ds: Diagnostic[] = [];
    const files: StreamedFile[] = [];
    for (const host of hostsOf(ir, opts)) {
      const file: StreamedFile = { path: fileOf(host), secret: false };
      const sink = open(file);
      const e = new Emitter('\t', new ByteOut(sink.write));
      renderHost(e, ir, host, ds);
      e.end();
      sink.close();
      files.push(file);
    }
    if (files.length === 0) noFile(ir, opts, ds);
    return { files, diagnostics: ds };
  },
};

function fileOf(host: string): string {
  return `${host}/cordon.nft`;
}

function hostsOf(ir: Ir, opts: RenderOptions): string[] {
  return enforcingHosts(ir).filter((h) => opts.host === undefined || opts.host === h);
}

/** `--host` named a host that gets no file. */
function noFile(ir: Ir, opts: RenderOptions, ds: Diagnostic[]): void {
  if (opts.host === undefined) return;
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

export function enforcingHosts(ir: Ir): string[] {
  return [...new Set([...ir.chains.values()].map((c) => c.enforcedOn))].sort();
}

/** Every bridge port on a bridge this host owns, in a stable order, with its mark. */
export function portMarks(model: Model, host: string): Map<string, string> {
  const ports: string[] = [];
  // In any host order: the ports are sorted below, and a port named twice gets one mark either way.
  for (const h of model.hosts.values()) {
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
  return [...ir.chains.values()].filter((c) => c.enforcedOn === host).sort((a, b) => localeOrder(a.point, b.point));
}

/** The file of one host, through `e` (text or byte mode). */
function renderHost(e: Emitter, ir: Ir, host: string, ds: Diagnostic[]): void {
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
    // Every set of the chain, one block of generated text (names, types, numbers, addresses),
    // written as it is made; the rule lines that use them follow.
    // The rule lines wait aside (as bytes when streaming) while the sets are written.
    const body = e.aside(1);
    e.generatedBytes((out) => renderRules(ir, c, marks, ds, out, body));
    e.block('chain rules {', () => e.insert(body));
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
  return `${lead(match)}${NFLOG_RATE} log prefix "${nflogPrefixOf(point, ref)}" group ${NFLOG_GROUP}`;
}

/**
 * What goes in front of the rest of a rule line: `match` and a space, or nothing when `match` is
 * empty or blank-led by an empty binding (what `${match} rest`.trim() left; no line ends in a space).
 */
function lead(match: string): string {
  if (match === '') return '';
  return match.charCodeAt(0) === 0x20 ? `${match.slice(1)} ` : `${match} `;
}

/** Per point, the text of its NFLOG prefixes before the rule number (`cordon HASH r`), or null where that does not hold. */
const nflogHeads = new Map<string, string | null>();

/**
 * `nflogPrefix(point, ref)` without hashing the point again for every rule (a sha256 per drop
 * rule: 100,000 at 10,000 hosts). The head is taken from the policy prefix and used only after
 * it gave exactly `nflogPrefix`'s text for a rule of the point.
 */
function nflogPrefixOf(point: string, ref: number | 'policy'): string {
  if (ref === 'policy') return nflogPrefix(point, ref);
  const head = nflogHeads.get(point);
  if (head === undefined) {
    if (nflogHeads.size >= 4096) nflogHeads.clear();
    const direct = nflogPrefix(point, ref);
    const derived = `${nflogPrefix(point, 'policy').slice(0, -1)}r`;
    nflogHeads.set(point, direct === `${derived}${ref}` ? derived : null);
    return direct;
  }
  return head === null ? nflogPrefix(point, ref) : `${head}${ref}`;
}

function logPrefix(point: string, what: string): string {
  // The kernel keeps at most 127 bytes of a log prefix.
  return quotedText(`cordon ${what} ${point} `.slice(0, 60));
}

/** Whether two rules have the same binding: interfaces, bridge ports and connection state. */
function sameBinding(a: IrRule, b: IrRule): boolean {
  const x = a.match;
  const y = b.match;
  return sameNames(x.iif, y.iif) && sameNames(x.oif, y.oif) && sameNames(x.inPort, y.inPort) && (x.state ?? null) === (y.state ?? null);
}

function sameNames(a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): boolean {
  if (a === b) return true;
  if (a == null || b == null || a.length !== b.length) return a == null && b == null;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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

/** The comment line naming where a run's rule came from. */
function originLine(o: IrRule['origin']): string {
  return `# ${inert(`${o.path ? `${o.path}: ` : ''}${o.text} (${baseName(o.file)}:${o.line})`)}`;
}

/**
 * bindingPrefix, kept per binding: rules drafted from one binding share its lists (policy-parts.ts
 * `Binding`), so a chain's many runs bound to one bridge port (or to nothing) make its prefix once.
 * Only a prefix made without a diagnostic is kept: a port not on the host is reported every time.
 */
class BindingPrefixes {
  /** Bindings with only a bridge port (iif, oif and state undefined), by their inPort list. */
  private readonly byPort = new Map<readonly string[], string>();

  constructor(private readonly marks: Map<string, string>) {}

  prefix(r: IrRule, point: string, ds: Diagnostic[], ir: Ir): string {
    const m = r.match;
    if (m.iif !== undefined || m.oif !== undefined || m.state !== undefined) return bindingPrefix(r, this.marks, point, ds, ir);
    if (m.inPort === undefined) return '';
    const kept = this.byPort.get(m.inPort);
    if (kept !== undefined) return kept;
    const before = ds.length;
    const p = bindingPrefix(r, this.marks, point, ds, ir);
    if (ds.length === before) this.byPort.set(m.inPort, p);
    return p;
  }
}

const NO_BOXES: readonly Box[] = [];

/** Set elements sit three levels deep: table, set, elements. */
const ELEMENT_INDENT = ascii('\t\t\t');
const NEXT_ELEMENT = ascii(',\n\t\t\t');
const DOT = ascii(' . ');
const SET_OPEN = ascii('\tset ');
const SET_TYPE = ascii(' {\n\t\ttype ');
const SET_BODY = ascii('\n\t\tflags interval\n\t\tcounter\n\t\telements = {\n');
const SET_CLOSE = ascii('\n\t\t}\n\t}');
const TCP = ascii('tcp');
const UDP = ascii('udp');
const ICMP = ascii('icmp');
const SLASH = 0x2f;
const DASH = 0x2d;
const NL = 0x0a;

function ascii(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}

// Intervals are read by index, not destructured: a destructuring parameter runs the iterator
// protocol (an object per read) until the function is optimised, and a cold render of a 1,000-host
// spec writes ~100,000 of them (28 of its 190 MB allocated).
function writeAddr(out: ByteOut, iv: Iv): void {
  const lo = iv[0];
  const hi = iv[1];
  out.ipv4(lo);
  if (lo === hi) return;
  // One CIDR block exactly when the range is an aligned power-of-two block (what rangeToCidrs
  // would return alone); decided by arithmetic, as the internet's ranges split into dozens.
  const size = hi - lo + 1;
  const bits = 32 - Math.clz32(size - 1);
  if (2 ** bits === size && lo % size === 0) {
    out.byte(SLASH);
    out.num(32 - bits);
  } else {
    out.byte(DASH);
    out.ipv4(hi);
  }
}

function writeProto(out: ByteOut, iv: Iv): void {
  const lo = iv[0];
  const hi = iv[1];
  if (lo === hi) {
    if (lo === PROTO_TCP) out.bytes(TCP);
    else if (lo === PROTO_UDP) out.bytes(UDP);
    else if (lo === PROTO_ICMP) out.bytes(ICMP);
    else out.num(lo);
  } else {
    out.num(lo);
    out.byte(DASH);
    out.num(hi);
  }
}

function writePort(out: ByteOut, iv: Iv): void {
  const lo = iv[0];
  const hi = iv[1];
  out.num(lo);
  if (lo === hi) return;
  out.byte(DASH);
  out.num(hi);
}

/** What an element of each kind of set holds, after its source and destination. */
type ElementKind = 'saddr' | 'daddr' | 'addrs' | 'protos' | 'ports';

/**
 * One set, written as bytes (no string per element: 10,000 hosts' rules have millions) as the
 * renderer's emitter would write it one level deep (in its table): `set NAME {`, its type, flags
 * and counter, `elements = {`, a line `ELEMENT,` per box (the last without its comma), and the
 * two closing braces. Sets after the first of a chain (`first` false) start on a new line. The
 * name and type are made of letters, digits, `_`, `.` and spaces (ascii).
 */
function writeSet(out: ByteOut, first: boolean, name: string, type: string, boxes: readonly Box[], kind: ElementKind): void {
  if (!first) out.byte(NL);
  out.bytes(SET_OPEN);
  out.ascii(name);
  out.bytes(SET_TYPE);
  out.ascii(type);
  out.bytes(SET_BODY);
  for (let i = 0; i < boxes.length; i++) {
    const b = boxes[i]!;
    out.bytes(i === 0 ? ELEMENT_INDENT : NEXT_ELEMENT);
    if (kind === 'saddr') writeAddr(out, b.src);
    else if (kind === 'daddr') writeAddr(out, b.dst);
    else {
      writeAddr(out, b.src);
      out.bytes(DOT);
      writeAddr(out, b.dst);
      if (kind !== 'addrs') {
        out.bytes(DOT);
        writeProto(out, b.proto);
        if (kind === 'ports') {
          out.bytes(DOT);
          writePort(out, b.port!);
        }
      }
    }
  }
  out.bytes(SET_CLOSE);
}

/** Appends the verdict lines of rule `r` with `match` in front (trimmed: `match` may be empty or start with a space) to `out`. */
function verdictLines(r: IrRule, match: string, point: string, out: Emitter): void {
  const m = lead(match);
  if (r.log) out.line(`${m}limit rate 5/second burst 10 packets log prefix "${logPrefix(point, r.action)}" level info`);
  if (r.action !== 'accept') out.line(nflogLine(match, point, r.index));
  switch (r.action) {
    case 'accept':
      out.line(r.rate ? `${m}limit rate ${r.rate} counter accept` : `${m}counter accept`);
      break;
    case 'drop':
      out.line(`${m}counter drop`);
      break;
    case 'reject':
      out.line(`${m}meta l4proto tcp counter reject with tcp reset`).line(`${m}counter reject`);
      break;
  }
}

/** The last part of a path (what `split('/').pop()` gives), kept for the last path asked: every origin of a spec names one file. */
let lastPath: string | undefined;
let lastBase = '';
function baseName(path: string): string {
  if (path !== lastPath) {
    lastBase = path.slice(path.lastIndexOf('/') + 1);
    lastPath = path;
  }
  return lastBase;
}

/**
 * Rules in order; runs with one verdict and binding become set lookups. The chain's sets are
 * written to `out` (one generated block, see renderChain); the rule lines go to `lines`.
 */
function renderRules(ir: Ir, c: Chain, marks: Map<string, string>, ds: Diagnostic[], out: ByteOut, lines: Emitter): void {
  const start = out.total;
  const binding = new BindingPrefixes(marks);
  const rules = c.rules;
  let i = 0;
  let runNo = 0;
  while (i < rules.length) {
    const r = rules[i]!;
    if (r.role === 'stateful') {
      lines.line('ct state established,related counter accept').line('ct state invalid counter drop');
      i++;
      continue;
    }
    if (r.role === 'loopback') {
      lines.line(`${binding.prefix(r, c.point, ds, ir)} accept`);
      i++;
      continue;
    }
    // Gather a run: same action, log, rate and binding, and no rate limit (rates are per rule).
    let j = i + 1;
    while (
      j < rules.length &&
      !r.rate &&
      !rules[j]!.rate &&
      rules[j]!.role !== 'stateful' &&
      rules[j]!.role !== 'loopback' &&
      rules[j]!.action === r.action &&
      rules[j]!.log === r.log &&
      sameBinding(rules[j]!, r)
    )
      j++;
    // The run is rules[i, j): read in place, not copied.
    const from = i;
    i = j;
    runNo++;
    // Rules that match every protocol and port need only an address lookup.
    let ports: readonly Box[] = NO_BOXES;
    let protos: readonly Box[] = NO_BOXES;
    let addrs: readonly Box[] = NO_BOXES;
    const one = r.match;
    const oneFlows = j - from === 1 ? (flowEqual(one.flows, ALL_FLOWS) ? ICMP_ONLY : one.flows) : undefined;
    if (oneFlows !== undefined && ruleBoxesDisjoint(one.src, one.dst, oneFlows)) {
      // One rule whose boxes are disjoint (most runs): its boxes are the set's, with no collection to cut them.
      const parts = splitBoxes(ruleBoxes(one.src, one.dst, oneFlows));
      if (oneFlows === ICMP_ONLY) addrs = parts.protos;
      else ({ ports, protos } = parts);
    } else {
      const boxes = new DisjointBoxes();
      const addrBoxes = new DisjointBoxes();
      for (let k = from; k < j; k++) {
        const x = rules[k]!;
        const src = x.match.src;
        const dst = x.match.dst;
        const flows = flowEqual(x.match.flows, ALL_FLOWS) ? ICMP_ONLY : x.match.flows;
        const into = flows === ICMP_ONLY ? addrBoxes : boxes;
        const bs = ruleBoxes(src, dst, flows);
        if (ruleBoxesDisjoint(src, dst, flows)) into.addDisjoint(bs);
        else for (let b = 0; b < bs.length; b++) into.add(bs[b]!);
      }
      ({ ports, protos } = boxes.parts());
      addrs = addrBoxes.parts().protos;
    }
    // A blank line between runs (not before the first line).
    lines.gap();
    if (j - from === 1) lines.line(originLine(r.origin));
    else {
      // Each origin once (by path and text), where it first comes; a later one of the same key is
      // the one shown, as a Map keeps a key's first place and its last value.
      const origins = new Map<string, IrRule['origin']>();
      for (let k = from; k < j; k++) {
        const o = rules[k]!.origin;
        origins.set(`${o.path}|${o.text}`, o);
      }
      for (const o of origins.values()) lines.line(originLine(o));
    }
    const prefix = binding.prefix(r, c.point, ds, ir);
    const name = `run${String(runNo).padStart(3, '0')}`;
    if (addrs.length) {
      const anySrc = addrs.every((b) => b.src[0] === 0 && b.src[1] === ADDR_MAX);
      const anyDst = addrs.every((b) => b.dst[0] === 0 && b.dst[1] === ADDR_MAX);
      if (anySrc && anyDst) {
        verdictLines(r, prefix, c.point, lines);
      } else if (anySrc || anyDst) {
        const field = anySrc ? 'daddr' : 'saddr';
        writeSet(out, out.total === start, `${name}_${field}`, 'ipv4_addr', addrs, anySrc ? 'daddr' : 'saddr');
        verdictLines(r, `${prefix} ip ${field} @${name}_${field}`, c.point, lines);
      } else {
        writeSet(out, out.total === start, `${name}_addrs`, 'ipv4_addr . ipv4_addr', addrs, 'addrs');
        verdictLines(r, `${prefix} ip saddr . ip daddr @${name}_addrs`, c.point, lines);
      }
    }
    if (ports.length) {
      writeSet(out, out.total === start, `${name}_ports`, 'ipv4_addr . ipv4_addr . inet_proto . inet_service', ports, 'ports');
      verdictLines(r, `${prefix} ip saddr . ip daddr . meta l4proto . th dport @${name}_ports`, c.point, lines);
    }
    if (protos.length) {
      writeSet(out, out.total === start, `${name}_protos`, 'ipv4_addr . ipv4_addr . inet_proto', protos, 'protos');
      verdictLines(r, `${prefix} ip saddr . ip daddr . meta l4proto @${name}_protos`, c.point, lines);
    }
  }
}
