/**
 * `cordon import --from proxmox ROOT`: a Proxmox VE node's firewall configuration, read from a
 * copy of its tree (etc/hostname, etc/pve/firewall/cluster.fw, etc/pve/nodes/<node>/host.fw,
 * etc/pve/firewall/<vmid>.fw, etc/pve/qemu-server|lxc/<vmid>.conf, etc/pve/corosync.conf), as
 * the hand-written chains of the node (input, output, forward) and of each guest with a firewall
 * (guest-in, guest-out).
 *
 * Evaluation follows the Proxmox VE admin guide ("Proxmox VE Firewall") and pve-firewall:
 *  - nothing is filtered unless cluster.fw sets `enable: 1` (the firewall is disabled by default);
 *  - host traffic: established connections and loopback first, the `management` IP set's access
 *    to the GUI, consoles and SSH (8006, 5900-5999, 3128, 22) and corosync between ring addresses
 *    (udp 5405-5412), then host.fw's rules, then cluster.fw's (host rules first, "to overwrite
 *    rules from cluster.fw"); policy_in defaults to DROP, policy_out to ACCEPT;
 *  - the classic pve-firewall does not filter forwarded traffic at the host: it filters guests at
 *    their bridge ports, so a host rule about a guest's address never matches (CORDON049);
 *  - a guest's firewall applies when its <vmid>.fw has `enable: 1` and its NIC `firewall=1`:
 *    IN rules guard traffic to the guest (policy_in default DROP), OUT rules traffic from it
 *    (policy_out default ACCEPT), established connections pass; an `ipfilter-netN` set drops
 *    sources outside it.
 * Each built-in rule says so in its comment. The networks and guests come from --topology (guests
 * are its hosts whose `id` is the vmid) or, without one, from the node's own files (topology.ts).
 */
import { diag, sortDiagnostics, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { ALL_FLOWS, ALL_PORTS, flowUnion, NO_FLOWS, type FlowSet } from '../../util/flows.js';
import { ADDR_MAX, parseIPv4 } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { ANY_BOX, boxToRule, unexpressible, type Box } from '../common/box.js';
import type { ImportRequest, ImportResult, Importer } from '../common/contract.js';
import { commentText, writeSpec, type DraftFirewall, type DraftRule } from '../common/spec-writer.js';
import { importBase } from '../common/topology.js';
import { parseAddrList } from '../iptables/match.js';
import { parsePveFile, type PveFile, type PveRule } from './fw.js';
import { findMacro } from './macros.js';
import { buildTopology, readInterfaces, type GuestConf } from './topology.js';
import { NAME_RE } from '../../spec/identifiers.js';
import type { Spec } from '../../spec/schema.js';

const PROTO: Readonly<Record<string, FlowSet>> = {
  tcp: { ...NO_FLOWS, tcp: ALL_PORTS },
  udp: { ...NO_FLOWS, udp: ALL_PORTS },
  icmp: { ...NO_FLOWS, icmp: true },
  '6': { ...NO_FLOWS, tcp: ALL_PORTS },
  '17': { ...NO_FLOWS, udp: ALL_PORTS },
  '1': { ...NO_FLOWS, icmp: true },
};

function ports(text: string): RangeSet | undefined {
  const spans: [number, number][] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?::(\d+))?$/.exec(part);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi > 65535 || hi < lo) return undefined;
    spans.push([lo, hi]);
  }
  return R.normalize(spans);
}

interface Scope {
  readonly local: PveFile | undefined;
  readonly dc: PveFile | undefined;
}

/** An address spec of -source/-dest: an IP set (+name, +dc/name, +guest/name), an alias, a range or a list. */
function resolveAddr(spec: string, scope: Scope, depth = 0): RangeSet | string {
  const named = /^(\+)?(?:(dc|guest)\/)?([A-Za-z][A-Za-z0-9_-]*)$/.exec(spec);
  if (named && depth < 4) {
    const where = named[2] === 'dc' ? [scope.dc] : named[2] === 'guest' ? [scope.local] : [scope.local, scope.dc];
    const name = named[3]!.toLowerCase();
    if (named[1]) {
      for (const f of where) {
        const set = f?.ipsets.get(name);
        if (!set) continue;
        let acc: RangeSet = R.EMPTY;
        for (const e of set.entries.filter((x) => !x.not)) {
          const r = resolveAddr(e.value, scope, depth + 1);
          if (typeof r === 'string') return r;
          acc = R.union(acc, r);
        }
        for (const e of set.entries.filter((x) => x.not)) {
          const r = resolveAddr(e.value, scope, depth + 1);
          if (typeof r === 'string') return r;
          acc = R.subtract(acc, r);
        }
        return acc;
      }
      return `no IP set '${named[3]}'`;
    }
    for (const f of where) {
      const a = f?.aliases.get(name);
      if (a) return resolveAddr(a.value, scope, depth + 1);
    }
    return `no alias '${named[3]}'`;
  }
  const range = /^([\d.]+)-([\d.]+)$/.exec(spec);
  if (range) {
    const lo = parseIPv4(range[1]!);
    const hi = parseIPv4(range[2]!);
    return lo !== undefined && hi !== undefined && lo <= hi ? [[lo, hi]] : `'${spec}' is not an address range`;
  }
  const r = parseAddrList(spec);
  if ('set' in r) return r.set;
  return 'v6' in r ? 'an IPv6 address (not modelled)' : r.error;
}

interface RuleOut {
  readonly box: Box;
  readonly action: 'accept' | 'drop' | 'reject';
  readonly rule: PveRule;
  readonly file: string;
  readonly via: PveRule | undefined;
}

/** One rule as a box, or why it is taken otherwise (said as a located diagnostic). */
function ruleBox(
  r: PveRule,
  scope: Scope,
  file: string,
  ds: Diagnostic[],
  portOf: (iface: string) => string | undefined,
  ifaceDim: 'iif' | 'oif' | 'port' | 'none',
): Box | undefined {
  const at = { file, line: r.line, col: 1 };
  const unknown: string[] = [];
  let box: Box = ANY_BOX;
  for (const [dim, spec] of [
    ['src', r.source],
    ['dst', r.dest],
  ] as const) {
    if (spec === undefined) continue;
    const set = resolveAddr(spec, scope);
    if (typeof set === 'string') {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `-${dim === 'src' ? 'source' : 'dest'} ${spec}: ${set}`, at));
      return undefined;
    }
    box = { ...box, [dim]: set };
  }
  let flows: FlowSet = ALL_FLOWS;
  if (r.macro !== undefined) {
    const m = findMacro(r.macro);
    if (!m) unknown.push(`macro ${r.macro} (not one cordon knows the ports of)`);
    else {
      flows = NO_FLOWS;
      for (const f of m.flows) flows = flowUnion(flows, { ...PROTO[f.proto]!, ...(f.proto === 'tcp' ? { tcp: ports(f.dport)! } : { udp: ports(f.dport)! }) });
    }
  } else if (r.proto !== undefined) {
    const p = PROTO[r.proto.toLowerCase()];
    if (!p) flows = { ...NO_FLOWS, other: true };
    else flows = p;
    if (r.dport !== undefined) {
      const d = ports(r.dport);
      if (d === undefined) unknown.push(`-dport ${r.dport} (a service name or form cordon does not read)`);
      else flows = { tcp: R.intersect(flows.tcp, d), udp: R.intersect(flows.udp, d), icmp: false, other: false };
    }
  }
  if (r.sport !== undefined) unknown.push(`-sport ${r.sport} (cordon matches destination ports only)`);
  if (r.icmpType !== undefined) unknown.push(`-icmp-type ${r.icmpType} (cordon matches all of ICMP or none)`);
  box = { ...box, flows };
  if (r.iface !== undefined) {
    if (ifaceDim === 'iif') box = { ...box, iif: r.iface };
    else if (ifaceDim === 'oif') box = { ...box, oif: r.iface };
    else if (ifaceDim === 'port' && portOf(r.iface) !== undefined) box = { ...box, inPort: portOf(r.iface) };
    else unknown.push(`-i ${r.iface} (which of the guest's ports a packet leaves to is not modelled)`);
  }
  if (unknown.length > 0) {
    const widen = r.action === 'ACCEPT';
    ds.push(unexpressible(unknown, widen, widen ? 'ACCEPT' : r.action, at));
    if (!widen) return undefined;
  }
  return box;
}

function verdictOf(a: string): 'accept' | 'drop' | 'reject' {
  return a === 'ACCEPT' ? 'accept' : a === 'REJECT' ? 'reject' : 'drop';
}

/** A file's rules of one direction, GROUP rules expanded from cluster.fw's security groups. */
function directionRules(f: PveFile, dir: 'in' | 'out', dc: PveFile | undefined, ds: Diagnostic[]): { rule: PveRule; file: string; via: PveRule | undefined }[] {
  const out: { rule: PveRule; file: string; via: PveRule | undefined }[] = [];
  for (const r of f.rules) {
    if (r.type === 'group') {
      const g = dc?.groups.get(r.action.toLowerCase());
      if (!g) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', `no security group '${r.action}' in cluster.fw`, { file: f.file, line: r.line, col: 1 }));
        continue;
      }
      for (const gr of g.rules) if (gr.type === dir) out.push({ rule: { ...gr, iface: gr.iface ?? r.iface }, file: dc!.file, via: r });
      continue;
    }
    if (r.type === dir) out.push({ rule: r, file: f.file, via: undefined });
  }
  return out;
}

interface Builtin {
  readonly box: Box;
  readonly text: string;
  readonly source: SourcePos;
}

function draft(b: Builtin): DraftRule | undefined {
  const rule = boxToRule(b.box, 'accept', `pve-firewall built-in: ${b.text}`);
  return rule && { rule, source: b.source, sourceText: `built-in rule of pve-firewall: ${b.text}` };
}

function ruleDrafts(items: readonly RuleOut[]): DraftRule[] {
  const out: DraftRule[] = [];
  for (const it of items) {
    const comment = `${it.file}:${it.rule.line}${it.rule.comment ? ` ${commentText(it.rule.comment, 80)}` : ''}`;
    const rule = boxToRule(it.box, it.action, comment);
    if (!rule) continue;
    const via = it.via ? ` (through GROUP ${it.via.action} at line ${it.via.line})` : '';
    out.push({ rule, source: { file: it.file, line: it.rule.line, col: 1 }, sourceText: `${it.rule.text}${via}` });
  }
  return out;
}

function policyOf(f: PveFile | undefined, name: string, dflt: 'ACCEPT' | 'DROP'): { policy: 'accept' | 'drop'; source: SourcePos | undefined; text: string } {
  const o = f?.options.get(name);
  const v = o?.value.toUpperCase() ?? dflt;
  const policy = v === 'ACCEPT' ? 'accept' : 'drop';
  return o
    ? { policy, source: { file: f!.file, line: o.line, col: 1 }, text: `${name}: ${o.value}${v === 'REJECT' ? ' (REJECT: refused, taken as dropped)' : ''}` }
    : { policy, source: f ? { file: f.file, line: 1, col: 1 } : undefined, text: `${name} not set: ${dflt}, pve-firewall's default` };
}

const MGMT = R.normalize([
  [8006, 8006],
  [5900, 5999],
  [3128, 3128],
  [22, 22],
]);

/** The topology from the node's own files (topology.ts), when no --topology is given. */
function ownTopology(root: string, hostname: string | undefined, req: ImportRequest, ds: Diagnostic[]): { spec: Spec; file: string } | undefined {
  const path = (rel: string): string => `${root}/${rel}`;
  if (hostname === undefined || !NAME_RE.test(hostname)) {
    ds.push(
      diag(
        Code.IMPORT_SYNTAX,
        'error',
        hostname === undefined ? 'no etc/hostname: which node is this?' : `etc/hostname '${hostname.slice(0, 40)}' is not a name cordon accepts`,
        { file: path('etc/hostname') },
        'give the tree its etc/hostname, or pass --topology',
      ),
    );
    return undefined;
  }
  const ifFile = path('etc/network/interfaces');
  const bridges = req.tree.read(ifFile) === undefined ? undefined : { file: ifFile, bridges: readInterfaces(ifFile, req.tree, root, ds) };
  if (!bridges)
    ds.push(
      diag(
        Code.IMPORT_UNSUPPORTED,
        'warning',
        'no etc/network/interfaces: no bridges, so no networks or guests are imported',
        { file: ifFile },
        'add the file, or pass --topology',
      ),
    );
  const guests: GuestConf[] = [];
  for (const [dir, kind] of [
    ['etc/pve/qemu-server', 'vm'],
    ['etc/pve/lxc', 'container'],
  ] as const) {
    for (const f of req.tree.list(path(dir)) ?? []) {
      const m = /^(\d{1,9})\.conf$/.exec(f);
      const text = m ? req.tree.read(path(`${dir}/${f}`)) : undefined;
      if (m && text !== undefined) guests.push({ vmid: Number(m[1]), kind, file: path(`${dir}/${f}`), text });
    }
  }
  const ipfilterAddr = (vmid: number, n: number): number | undefined => {
    const text = req.tree.read(path(`etc/pve/firewall/${vmid}.fw`));
    if (text === undefined) return undefined;
    const set = parsePveFile(path(`etc/pve/firewall/${vmid}.fw`), text, 'vm').fw?.ipsets.get(`ipfilter-net${n}`);
    const only = set?.entries.length === 1 && !set.entries[0]!.not ? parseIPv4(set.entries[0]!.value) : undefined;
    return only;
  };
  const spec = buildTopology(hostname, bridges, guests, ipfilterAddr, ds);
  if (ds.some((d) => d.severity === 'error')) return undefined;
  return { spec, file: bridges?.file ?? root };
}

export const proxmoxImporter: Importer = {
  name: 'proxmox',
  description: "a Proxmox VE node's firewall: cluster.fw, host.fw, <vmid>.fw (with macros, IP sets, aliases, security groups)",
  paths: "ROOT, a copy of the node's tree (etc/hostname, etc/pve/firewall/, etc/pve/nodes/NODE/host.fw, etc/pve/qemu-server/, etc/pve/lxc/)",
  import(req: ImportRequest): ImportResult {
    const ds: Diagnostic[] = [];
    const root = (req.paths[0] ?? '.').replace(/\/+$/, '');
    const path = (rel: string): string => `${root}/${rel}`;
    const read = (rel: string): string | undefined => req.tree.read(path(rel));
    if (req.paths.length !== 1 || req.tree.list(root) === undefined) {
      ds.push(
        diag(Code.FILE_UNREADABLE, 'error', `--from proxmox reads one directory, a copy of the node's tree; got ${req.paths.join(' ')}`, {
          file: req.paths[0] ?? '.',
        }),
      );
      return { text: '', origins: new Map(), diagnostics: ds };
    }
    const hostname = read('etc/hostname')?.trim();
    const topology = req.topology ?? ownTopology(root, hostname, req, ds);
    if (!topology) return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };
    const hosts = topology.spec.hosts ?? {};
    const hypervisors = Object.entries(hosts).filter(([, h]) => h.kind === 'hypervisor');
    const node = req.host ?? (hostname && hostname in hosts ? hostname : hypervisors.length === 1 ? hypervisors[0]![0] : undefined);
    if (node === undefined || !(node in hosts)) {
      ds.push(
        diag(
          Code.IMPORT_SYNTAX,
          'error',
          `which topology host is the node${hostname ? ` '${hostname}'` : ''}?`,
          { file: topology.file },
          'name it with --host, or call it as etc/hostname does',
        ),
      );
      return { text: '', origins: new Map(), diagnostics: ds };
    }
    const load = (rel: string, kind: 'cluster' | 'host' | 'vm'): PveFile | undefined => {
      const text = read(rel);
      if (text === undefined) return undefined;
      const r = parsePveFile(path(rel), text, kind);
      ds.push(...r.diagnostics);
      return r.fw;
    };
    const dc = load('etc/pve/firewall/cluster.fw', 'cluster');
    const hostFw = load(`etc/pve/nodes/${hostname ?? node}/host.fw`, 'host');
    const enable = dc?.options.get('enable');
    const firewalls: DraftFirewall[] = [];
    const imported = new Set<string>([node]);
    const nodeAddrs: RangeSet = R.normalize(
      Object.values(hosts[node]!.nics ?? {}).flatMap((n) => {
        const a = parseIPv4(typeof n === 'string' ? n : n.address);
        return a === undefined ? [] : [[a, a] as [number, number]];
      }),
    );
    const guests = Object.entries(hosts).filter(([, h]) => h.id !== undefined && ['vm', 'container'].includes(h.kind));
    if (enable === undefined || enable.value === '0') {
      const at = { file: dc?.file ?? path('etc/pve/firewall/cluster.fw'), line: enable?.line ?? 0, col: 1 };
      ds.push(
        diag(Code.IMPORT_NOTE, 'info', 'the Proxmox firewall is disabled (cluster.fw has no enable: 1): nothing is filtered on the node or its guests', at),
      );
      for (const hook of ['input', 'output', 'forward'])
        firewalls.push({
          point: `${node}:${hook}`,
          policy: 'accept',
          policySource: enable ? at : undefined,
          policyText: 'firewall disabled (cluster.fw enable is not 1)',
          rules: [],
        });
    } else {
      // --- the node -----------------------------------------------------------------------------
      const dcFile = dc!.file;
      const at1 = { file: dcFile, line: enable.line, col: 1 };
      const builtins = (dir: 'in' | 'out'): Builtin[] => {
        const b: Builtin[] = [
          { box: { ...ANY_BOX, state: 'established' }, text: 'established and related connections', source: at1 },
          { box: { ...ANY_BOX, [dir === 'in' ? 'iif' : 'oif']: 'lo' }, text: 'loopback', source: at1 },
        ];
        const mgmt = dc?.ipsets.get('management');
        if (dir === 'in' && mgmt) {
          const set = resolveAddr('+dc/management', { local: undefined, dc });
          if (typeof set !== 'string')
            b.push({
              box: { ...ANY_BOX, src: set, flows: { ...NO_FLOWS, tcp: MGMT } },
              text: 'the management IP set reaches the GUI (8006), consoles (5900-5999, 3128) and SSH (22)',
              source: { file: dcFile, line: mgmt.line, col: 1 },
            });
        }
        const corosync = read('etc/pve/corosync.conf');
        if (dir === 'in' && corosync) {
          const rings = [...corosync.matchAll(/ring\d+_addr:\s*([\d.]+)/g)].map((m) => parseIPv4(m[1]!)).filter((x) => x !== undefined);
          if (rings.length > 0)
            b.push({
              box: { ...ANY_BOX, src: R.normalize(rings.map((a) => [a, a] as [number, number])), flows: { ...NO_FLOWS, udp: [[5405, 5412]] } },
              text: 'corosync cluster traffic between ring addresses (udp 5405-5412)',
              source: { file: path('etc/pve/corosync.conf'), line: 1, col: 1 },
            });
        }
        return b;
      };
      const guestAddrs = new Map<string, RangeSet>();
      for (const [name, h] of guests)
        guestAddrs.set(
          name,
          R.normalize(
            Object.values(h.nics ?? {}).flatMap((n) => {
              const a = parseIPv4(typeof n === 'string' ? n : n.address);
              return a === undefined ? [] : [[a, a] as [number, number]];
            }),
          ),
        );
      for (const [dir, hook, optName, dflt] of [
        ['in', 'input', 'policy_in', 'DROP'],
        ['out', 'output', 'policy_out', 'ACCEPT'],
      ] as const) {
        const items: RuleOut[] = [];
        const hostOn = hostFw?.options.get('enable')?.value !== '0';
        const sources = [...(hostFw && hostOn ? directionRules(hostFw, dir, dc, ds) : []), ...directionRules(dc!, dir, dc, ds)];
        for (const s of sources) {
          const box = ruleBox(s.rule, { local: s.file === dcFile ? dc : hostFw, dc }, s.file, ds, () => undefined, dir === 'in' ? 'iif' : 'oif');
          if (!box) continue;
          const named = dir === 'in' ? box.dst : box.src;
          if (named !== undefined && R.isEmpty(R.intersect(named, nodeAddrs))) {
            const hit = [...guestAddrs].find(([, a]) => !R.isEmpty(R.intersect(a, named)));
            if (hit)
              ds.push(
                diag(
                  Code.IMPORT_RULE_INERT,
                  'warning',
                  `${s.rule.type.toUpperCase()} rule names ${hit[0]}'s address (${s.rule.dest ?? s.rule.source}), but host rules see only ${node}'s own traffic: it never matches bridged traffic to or from the guest`,
                  { file: s.file, line: s.rule.line, col: 1 },
                  `move it to ${hit[0]}'s own firewall (etc/pve/firewall/${hosts[hit[0]]!.id}.fw) as an ${dir === 'in' ? 'IN' : 'OUT'} rule, and enable that firewall`,
                ),
              );
          }
          items.push({ box, action: verdictOf(s.rule.action), rule: s.rule, file: s.file, via: s.via });
        }
        const pol = policyOf(dc, optName, dflt);
        firewalls.push({
          point: `${node}:${hook}`,
          policy: pol.policy,
          policySource: pol.source,
          policyText: pol.text,
          rules: [
            ...builtins(dir)
              .map(draft)
              .filter((x) => x !== undefined),
            ...ruleDrafts(items),
          ],
        });
      }
      firewalls.push({
        point: `${node}:forward`,
        policy: 'accept',
        policySource: undefined,
        policyText: 'pve-firewall filters forwarded traffic only at guest ports (their own firewalls), not at the host',
        rules: [],
      });
      // --- guests -------------------------------------------------------------------------------
      for (const [name, h] of guests) {
        const vmid = h.id!;
        const gf = load(`etc/pve/firewall/${vmid}.fw`, 'vm');
        if (!gf) continue;
        const on = gf.options.get('enable');
        if (on?.value !== '1') {
          ds.push(
            diag(Code.IMPORT_NOTE, 'info', `${name}'s firewall is not enabled (${vmid}.fw has no enable: 1): nothing filters at its ports`, {
              file: gf.file,
              line: on?.line ?? 1,
              col: 1,
            }),
          );
          continue;
        }
        const conf = read(`etc/pve/${h.kind === 'container' ? 'lxc' : 'qemu-server'}/${vmid}.conf`);
        if (conf !== undefined && !/^net\d+:.*\bfirewall=1\b/m.test(conf)) {
          ds.push(
            diag(Code.IMPORT_NOTE, 'info', `${name}'s interfaces have no firewall=1: its firewall rules apply nowhere`, {
              file: path(`etc/pve/${h.kind === 'container' ? 'lxc' : 'qemu-server'}/${vmid}.conf`),
              line: 1,
              col: 1,
            }),
          );
          continue;
        }
        imported.add(name);
        const prefix = h.kind === 'container' ? 'veth' : 'tap';
        const portOf = (iface: string): string | undefined => (/^net(\d+)$/.test(iface) ? `${prefix}${vmid}i${iface.slice(3)}` : undefined);
        const scope = { local: gf, dc };
        const est: Builtin = {
          box: { ...ANY_BOX, state: 'established' },
          text: 'established and related connections',
          source: { file: gf.file, line: on.line, col: 1 },
        };
        for (const [dir, hook, optName, dflt] of [
          ['in', 'guest-in', 'policy_in', 'DROP'],
          ['out', 'guest-out', 'policy_out', 'ACCEPT'],
        ] as const) {
          const items: RuleOut[] = [];
          for (const s of directionRules(gf, dir, dc, ds)) {
            const box = ruleBox(s.rule, scope, s.file, ds, portOf, dir === 'out' ? 'port' : 'none');
            if (box) items.push({ box, action: verdictOf(s.rule.action), rule: s.rule, file: s.file, via: s.via });
          }
          const anti: DraftRule[] = [];
          if (dir === 'out')
            for (const [setName, set] of gf.ipsets) {
              const m = /^ipfilter-net(\d+)$/.exec(setName);
              const allowed = m ? resolveAddr(`+guest/${setName}`, scope) : undefined;
              if (!m || allowed === undefined || typeof allowed === 'string') continue;
              const rule = boxToRule(
                { ...ANY_BOX, src: R.complement(allowed, [0, ADDR_MAX]), inPort: portOf(`net${m[1]}`) },
                'drop',
                `${gf.file}:${set.line} ipfilter`,
              );
              if (rule)
                anti.push({ rule, source: { file: gf.file, line: set.line, col: 1 }, sourceText: `[IPSET ${setName}]: sources outside it are dropped` });
            }
          const pol = policyOf(gf, optName, dflt);
          firewalls.push({
            point: `${name}:${hook}`,
            policy: pol.policy,
            policySource: pol.source,
            policyText: pol.text,
            rules: [...anti, ...[est].map(draft).filter((x) => x !== undefined), ...ruleDrafts(items)],
          });
        }
      }
    }
    const { base, keptFirewalls, droppedFirewalls } = importBase(
      topology.spec,
      imported,
      {},
      `imported from the Proxmox firewall of ${node} (${root})`,
      new Set([...imported].filter((h) => h !== node)),
    );
    const header = [
      `Imported by cordon from the Proxmox VE firewall configuration under ${root} (node ${node}).`,
      req.topology
        ? `Topology (networks, hosts, expectations) from ${req.topology.file}; its policy is replaced by the imported rules.`
        : `Topology from the node's own files: bridges from ${root}/etc/network/interfaces, guests vm<vmid> and ct<vmid> from their configs.`,
      'Every rule below names the file and line it comes from; built-in rules of pve-firewall say so.',
      ...(droppedFirewalls.length > 0 ? [`Per-guest chains of the topology left out: ${droppedFirewalls.join(', ')}.`] : []),
      '',
    ];
    const { text, origins } = writeSpec({ header, base, keptFirewalls, firewalls });
    return { text, origins, diagnostics: sortDiagnostics(ds) };
  },
};
