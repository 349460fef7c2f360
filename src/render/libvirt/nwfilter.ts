/**
 * One guest's per-guest firewall (its `guest-out` and `guest-in` chains) as a libvirt nwfilter.
 *
 * How the IR maps onto nwfilter's model:
 * - guest-out is `direction='out'` (from the guest, to anywhere including the hypervisor),
 *   guest-in is `direction='in'`; srcip and dstip are the packet's own source and destination.
 * - every rule carries an explicit `state` (NONE = any state). Without one, libvirt instantiates each
 *   rule a second time, reversed, in the other direction's chain (and, for drops, without any state
 *   match), which would mix the two chains. With one, a rule lives only in its own direction.
 * - the order of the IR is kept with priorities: consecutive rules with the same action share one
 *   (their relative order does not matter), each change of action takes the next. libvirt sorts
 *   rules by priority alone, with no stable order among equals. The chain default is priority 1000.
 * - the anti-spoofing rule becomes libvirt's `clean-traffic` (no MAC, IP or ARP spoofing, nothing
 *   but IPv4 and ARP), with the guest's address passed as `IP` by each interface's filterref.
 * - a bridge port (`inPort`) or interface binding that nwfilter cannot see is turned into the source
 *   addresses behind it; where that is not exact, a diagnostic says so. Logging and rate limits do
 *   not exist in nwfilter: a diagnostic says so, and the rule is rendered without them.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Chain, Ir, IrRule } from '../../ir/types.js';
import type { Host, Model, Nic } from '../../model/types.js';
import { assertNever } from '../../util/assert.js';
import { ALL_FLOWS, flowEqual, flowIsEmpty, type FlowSet } from '../../util/flows.js';
import { ANY_ADDRESS, formatIPv4, rangeToCidrs } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet, Span } from '../../util/rangeset.js';
import type { Emitter } from '../emit.js';
import { attrs, xmlComment } from './xml.js';

/** Name of the nwfilter cordon defines for a guest. */
export function filterName(guest: string): string {
  return `cordon-${guest}`;
}

/** The built-in libvirt filter that pins a guest to its MAC and `IP` parameter. */
export const ANTI_SPOOF_FILTER = 'clean-traffic';

/** Highest priority a rule may take; the chain default sits at 1000. */
const MAX_RULE_PRIORITY = 999;
const DEFAULT_PRIORITY = 1000;

interface PortNic {
  readonly nic: Nic;
  readonly bridge: string;
}

/** The guest's nics on bridges the hypervisor owns: the ports its nwfilter is attached to. */
export function ownedPorts(model: Model, guest: Host, hypervisor: string): PortNic[] {
  const out: PortNic[] = [];
  for (const nic of guest.nics) {
    const net = model.networks.get(nic.segment);
    if (nic.port && net?.owner === hypervisor) out.push({ nic, bridge: net.bridge });
  }
  return out;
}

function addrsOf(nics: readonly PortNic[]): RangeSet {
  return R.normalize(nics.map((p) => [p.nic.address, p.nic.address] as const));
}

/** Who sits behind a bridge port, anywhere in the model. */
function portOwner(model: Model, port: string): { host: Host; nic: Nic } | undefined {
  for (const h of model.hosts.values()) for (const nic of h.nics) if (nic.port === port) return { host: h, nic };
  return undefined;
}

/** Guests on the hypervisor's bridges that no per-guest anti-spoofing pins to their addresses. */
function unpinnedGuests(model: Model, hypervisor: string): string[] {
  const out: string[] = [];
  for (const h of [...model.hosts.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const onBridge = h.nics.some((n) => n.port !== undefined && model.networks.get(n.segment)?.owner === hypervisor);
    if (onBridge && !(h.guestFirewall && h.antiSpoof)) out.push(h.name);
  }
  return out;
}

interface Bound {
  readonly src: RangeSet | undefined;
  readonly dst: RangeSet | undefined;
  /** Why the rule can never match at this guest's ports; it is then left out (with a comment). */
  readonly never: string | undefined;
  /** How an exact translation was done, for the rule's comment. */
  readonly note: string | undefined;
}

/**
 * Replaces the parts of a match nwfilter cannot see (bridge ports, the hypervisor's interfaces) by
 * addresses, and reports how exact that is.
 */
function bind(ir: Ir, c: Chain, r: IrRule, guest: Host, ports: readonly PortNic[], ds: Diagnostic[], file: string): Bound {
  const m = r.match;
  let src = m.src;
  let dst = m.dst;
  let note: string | undefined;
  const at = { file, line: r.origin.line, col: r.origin.col, path: r.origin.path };
  const what = `${r.id} ("${r.origin.text}")`;
  if (c.hook === 'guest-out') {
    // The packet comes from one of the guest's own ports; which one is told by its source address.
    let active = ports;
    if (m.inPort) active = active.filter((p) => m.inPort!.includes(p.nic.port!));
    if (m.iif) active = active.filter((p) => m.iif!.includes(p.bridge));
    if (active.length === 0)
      return { src, dst, note, never: `it binds to ${[...(m.inPort ?? []), ...(m.iif ?? [])].join(', ')}, none of which carries traffic from ${guest.name}` };
    if (active.length < ports.length) {
      src = R.intersect(src ?? ANY_ADDRESS, addrsOf(active));
      if (src.length === 0) return { src, dst, note, never: `its sources are not ${guest.name}'s addresses on ${active.map((p) => p.nic.port).join(', ')}` };
      if (!guest.antiSpoof) {
        ds.push(
          diag(
            Code.TARGET_CANNOT_EXPRESS,
            'warning',
            `libvirt: ${what} applies to ${guest.name}'s port(s) ${active.map((p) => p.nic.port).join(', ')} only; nwfilter tells the ports apart by source address, which ${guest.name} can forge because firewall.antiSpoof is off`,
            at,
            'turn on firewall.antiSpoof for this guest (clean-traffic pins each port to its address)',
          ),
        );
      }
    }
    if (m.oif) {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `libvirt: ${what} matches the hypervisor's output interface ${m.oif.join(', ')}, which nwfilter cannot see: rendered without that condition, so it applies to more traffic than verified`,
          at,
          "the hypervisor's own firewall (nftables target) enforces the interface",
        ),
      );
    }
  } else {
    // The packet goes to one of the guest's ports; where it came from is all nwfilter can see of it.
    if (m.oif) {
      const active = ports.filter((p) => m.oif!.includes(p.bridge));
      if (active.length === 0) return { src, dst, note, never: `it binds to output interface(s) ${m.oif.join(', ')}, none of which leads to ${guest.name}` };
      if (active.length < ports.length) dst = R.intersect(dst ?? ANY_ADDRESS, addrsOf(active));
    }
    if (m.inPort) {
      // nwfilter cannot see the port a packet entered the bridge by, only its source address. That
      // is as good as the port when no guest on this hypervisor's bridges can forge an address.
      const behind = R.normalize(
        m.inPort.flatMap((p) => {
          const o = portOwner(ir.model, p);
          return o ? [[o.nic.address, o.nic.address] as const] : [];
        }),
      );
      src = R.intersect(src ?? ANY_ADDRESS, behind);
      if (src.length === 0) return { src, dst, note, never: `no address sits behind bridge port(s) ${m.inPort.join(', ')}` };
      const forgers = unpinnedGuests(ir.model, c.enforcedOn);
      if (forgers.length === 0) {
        note = `bridge port(s) ${m.inPort.join(', ')} matched by the source address behind them: exact for guests, as clean-traffic pins every guest on ${c.enforcedOn}'s bridges to its address`;
      } else {
        ds.push(
          diag(
            Code.TARGET_CANNOT_EXPRESS,
            'warning',
            `libvirt: ${what} matches bridge port(s) ${m.inPort.join(', ')}, which ${guest.name}'s nwfilter cannot see: rendered by source address, which ${forgers.join(', ')} can forge (no per-guest anti-spoofing)`,
            at,
            'give those guests firewall: { guest: true, antiSpoof: true }',
          ),
        );
      }
    }
    if (m.iif) {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `libvirt: ${what} matches the interface the packet entered the hypervisor by (${m.iif.join(', ')}), which nwfilter cannot see: rendered by source address only, so a forged source elsewhere also matches`,
          at,
          "the hypervisor's own firewall (nftables target) enforces the interface",
        ),
      );
    }
  }
  return { src, dst, note, never: undefined };
}

/** `srcipaddr`/`srcipmask` for one address or prefix, `srcipfrom`/`srcipto` for any other span. */
function addrAttrs(prefix: 'src' | 'dst', span: Span | undefined): [string, string | number][] {
  if (!span) return [];
  const [lo, hi] = span;
  if (lo === hi) return [[`${prefix}ipaddr`, formatIPv4(lo)]];
  const cidrs = rangeToCidrs({ lo, hi });
  if (cidrs.length === 1)
    return [
      [`${prefix}ipaddr`, formatIPv4(cidrs[0]!.addr)],
      [`${prefix}ipmask`, cidrs[0]!.len],
    ];
  return [
    [`${prefix}ipfrom`, formatIPv4(lo)],
    [`${prefix}ipto`, formatIPv4(hi)],
  ];
}

interface ProtoPart {
  readonly element: 'all' | 'tcp' | 'udp' | 'icmp';
  readonly ports: Span | undefined;
}

/** The protocol elements a flow set needs, or undefined when nwfilter cannot say it. */
function protoParts(flows: FlowSet): ProtoPart[] | undefined {
  if (flowEqual(flows, ALL_FLOWS)) return [{ element: 'all', ports: undefined }];
  if (flows.other) return undefined;
  const out: ProtoPart[] = [];
  const ports = (p: Span): Span | undefined => (p[0] <= 1 && p[1] === 65535 ? undefined : p);
  for (const p of flows.tcp) out.push({ element: 'tcp', ports: ports(p) });
  for (const p of flows.udp) out.push({ element: 'udp', ports: ports(p) });
  if (flows.icmp) out.push({ element: 'icmp', ports: undefined });
  return out;
}

function stateOf(r: IrRule): string {
  switch (r.match.state) {
    case 'new':
      return 'NEW';
    case 'established':
      return 'ESTABLISHED,RELATED';
    case undefined:
      return 'NONE';
    default:
      return assertNever(r.match.state, 'connection state');
  }
}

/** Writes the rules of one chain; returns the number of rules that asked for logging. */
function emitChain(e: Emitter, ir: Ir, c: Chain, guest: Host, ports: readonly PortNic[], ds: Diagnostic[]): { logged: number } {
  const file = ir.model.file;
  const direction = c.hook === 'guest-out' ? 'out' : 'in';
  let priority = 0;
  let lastAction: string | undefined;
  let logged = 0;
  let tooMany = false;
  e.line(
    xmlComment(
      `${c.point}${c.handwritten ? ' (hand-written in the spec)' : ''}: direction='${direction}', ${direction === 'out' ? `from ${guest.name}` : `to ${guest.name}`}`,
    ),
  );
  for (const r of c.rules) {
    const where = `${r.origin.file.split('/').pop()}:${r.origin.line}`;
    if (r.role === 'antispoof') {
      e.line(xmlComment(`${r.id}: ${r.origin.text} (${where}): ${ANTI_SPOOF_FILTER} above`));
      continue;
    }
    if (r.log) logged++;
    const bound = bind(ir, c, r, guest, ports, ds, file);
    if (bound.never) {
      e.line(xmlComment(`${r.id}: ${r.origin.text} (${where}): left out, ${bound.never}`));
      continue;
    }
    const parts = protoParts(r.match.flows);
    if (!parts) {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'error',
          `libvirt: ${r.id} ("${r.origin.text}") matches "every other IP protocol" but not every flow; nwfilter can only name tcp, udp, icmp or all`,
          { file, line: r.origin.line, col: r.origin.col, path: r.origin.path },
          'list the protocols explicitly, or use `any`',
        ),
      );
      continue;
    }
    if (parts.length === 0 || flowIsEmpty(r.match.flows)) {
      e.line(xmlComment(`${r.id}: ${r.origin.text} (${where}): left out, it matches no flow`));
      continue;
    }
    if (r.rate !== undefined && r.action === 'accept') {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `libvirt: ${r.id} ("${r.origin.text}") has rate ${r.rate}, which nwfilter cannot express: rendered without the limit`,
          { file, line: r.origin.line, col: r.origin.col, path: r.origin.path },
          "the hypervisor's own firewall (nftables target) enforces the rate",
        ),
      );
    }
    if (r.action !== lastAction) {
      priority++;
      lastAction = r.action;
    }
    if (priority > MAX_RULE_PRIORITY && !tooMany) {
      tooMany = true;
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'error',
          `libvirt: ${c.point} needs more than ${MAX_RULE_PRIORITY} alternations between accept and drop; nwfilter priorities run out`,
          { file, line: r.origin.line, col: r.origin.col, path: r.origin.path },
        ),
      );
    }
    const notes = [bound.note ?? '', r.log ? 'log: not expressible in nwfilter' : '', r.rate ? `rate ${r.rate}: not expressible in nwfilter` : ''].filter(
      Boolean,
    );
    e.line(xmlComment(`${r.id}: ${r.origin.text} (${where})${notes.length ? ` [${notes.join('; ')}]` : ''}`));
    const srcs: (Span | undefined)[] = bound.src ? [...bound.src] : [undefined];
    const dsts: (Span | undefined)[] = bound.dst ? [...bound.dst] : [undefined];
    for (const s of srcs) {
      for (const d of dsts) {
        for (const p of parts) {
          const a = attrs([
            ...addrAttrs('src', s),
            ...addrAttrs('dst', d),
            ['dstportstart', p.ports?.[0]],
            ['dstportend', p.ports?.[1]],
            ['state', stateOf(r)],
            ['comment', r.id],
          ]);
          e.block(
            `<rule${attrs([
              ['action', r.action],
              ['direction', direction],
              ['priority', Math.min(priority, MAX_RULE_PRIORITY)],
            ])}>`,
            () => {
              e.line(`<${p.element}${a}/>`);
            },
            '</rule>',
          );
        }
      }
    }
  }
  e.line(xmlComment(`default for ${c.point}: ${c.policy} — ${c.policyOrigin.text}`));
  e.block(
    `<rule${attrs([
      ['action', c.policy],
      ['direction', direction],
      ['priority', DEFAULT_PRIORITY],
    ])}>`,
    () => {
      e.line(
        `<all${attrs([
          ['state', 'NONE'],
          ['comment', `${c.point} default`],
        ])}/>`,
      );
    },
    '</rule>',
  );
  return { logged };
}

/** The whole `<filter>` of one guest: anti-spoofing, its guest-out and guest-in chains, no IPv6. */
export function emitFilter(e: Emitter, ir: Ir, guest: Host, hypervisor: string, ds: Diagnostic[]): void {
  const out = ir.chains.get(`${guest.name}:guest-out`);
  const inn = ir.chains.get(`${guest.name}:guest-in`);
  const ports = ownedPorts(ir.model, guest, hypervisor);
  const antiSpoof = out?.rules.some((r) => r.role === 'antispoof') ?? false;
  let logged = 0;
  e.block(
    `<filter${attrs([
      ['name', filterName(guest.name)],
      ['chain', 'root'],
    ])}>`,
    () => {
      if (antiSpoof) {
        e.line(xmlComment(`anti-spoofing: ${guest.name} sends only from its own MAC and address (IP parameter set by each interface's filterref)`));
        e.line(`<filterref${attrs([['filter', ANTI_SPOOF_FILTER]])}/>`);
      } else {
        e.line(xmlComment(`no anti-spoofing: firewall.antiSpoof is off for ${guest.name}`));
      }
      for (const c of [out, inn]) {
        if (!c) continue;
        e.gap();
        logged += emitChain(e, ir, c, guest, ports, ds).logged;
      }
      e.gap();
      e.line(xmlComment('IPv6 is not modelled by cordon: dropped both ways, like the nftables target does'));
      e.block(
        `<rule${attrs([
          ['action', 'drop'],
          ['direction', 'inout'],
          ['priority', DEFAULT_PRIORITY],
        ])}>`,
        () => {
          e.line(`<all-ipv6${attrs([['comment', 'cordon: no IPv6']])}/>`);
        },
        '</rule>',
      );
    },
    '</filter>',
  );
  if (logged > 0) {
    ds.push(
      diag(
        Code.TARGET_CANNOT_EXPRESS,
        'info',
        `libvirt: ${logged} rule(s) of ${guest.name}'s per-guest firewall ask for logging, which nwfilter cannot do; they are rendered without it`,
        { file: ir.model.file, line: guest.origin.line, col: guest.origin.col, path: guest.origin.path },
        'log on the hypervisor with the nftables target',
      ),
    );
  }
}
