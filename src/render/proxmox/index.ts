/**
 * proxmox target: the Proxmox VE firewall files and bridges for every Proxmox hypervisor.
 *
 *   HOST/cluster.fw   /etc/pve/firewall/cluster.fw   options and policies, aliases, IP sets, security groups
 *   HOST/host.fw      /etc/pve/nodes/<node>/host.fw  the hypervisor's input (IN), output (OUT) and,
 *                                                    with proxmox-firewall, forward (FORWARD) chains
 *   HOST/<vmid>.fw    /etc/pve/firewall/<vmid>.fw    a guest's guest-out (OUT) and guest-in (IN) chains
 *   HOST/interfaces   /etc/network/interfaces        the bridges of the networks the hypervisor owns
 *   HOST/guest-nics.sh  qm set / pct set               the guests' netN lines (guests.ts)
 *
 * Two implementations read these files (`-p firewall=`): the classic iptables-based pve-firewall
 * and the nftables-based proxmox-firewall. The formats are the same; what differs (Proxmox VE
 * docs, "Directions & Zones" and "nftables"): only proxmox-firewall applies FORWARD rules (host
 * level: routed traffic; bridged traffic between guests is VNet-level, SDN only), and it cannot
 * REJECT guest traffic (drops instead). So the hypervisor's forward chain is either rendered into
 * host.fw (proxmox-firewall, routed traffic) or left to cordon's nftables rule set (`-p
 * forward=nftables`); anything else is an error, never a silently missing wall.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Chain, Ir } from '../../ir/types.js';
import type { Host, Model, Network } from '../../model/types.js';
import { formatIPv4 } from '../../util/ip.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname, inert } from '../escape.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';
import { forwardRules, natRules, portRange } from '../nat.js';
import { renderGuestNics } from './guests.js';
import { natTableName } from '../nftables/nat.js';
import { Directory, MAX_GROUP_NAME, prefixesOf, proxmoxNames, type Named } from './names.js';
import { formatRule, fwComment, ruleText, translateChain, type Env, type FwRule, type Zone } from './rules.js';

const FIREWALLS = ['pve-firewall', 'proxmox-firewall'] as const;
type Firewall = (typeof FIREWALLS)[number];
const FORWARDS = ['native', 'nftables'] as const;
type Forward = (typeof FORWARDS)[number];

export const proxmoxRenderer: Renderer = {
  name: 'proxmox',
  description: 'Proxmox VE firewall (cluster.fw, host.fw, <vmid>.fw) and bridges (interfaces) per hypervisor',
  params: [
    {
      name: 'firewall',
      description: 'the firewall that reads the files: pve-firewall (iptables) or proxmox-firewall (nftables, adds FORWARD rules)',
      default: 'pve-firewall',
    },
    {
      name: 'forward',
      description:
        "where the hypervisor's forward chain is enforced: native (host.fw FORWARD rules, proxmox-firewall only) or nftables (cordon's nftables rule set, loaded beside the Proxmox firewall)",
      default: 'native',
    },
  ],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const ds: Diagnostic[] = [];
    const files: RenderedFile[] = [];
    const at = { file: ir.model.file };
    const firewall = (opts.params.get('firewall') ?? 'pve-firewall') as Firewall;
    const forward = (opts.params.get('forward') ?? 'native') as Forward;
    if (!FIREWALLS.includes(firewall))
      ds.push(diag(Code.SCHEMA, 'error', `proxmox: firewall=${firewall} is not a Proxmox firewall`, at, `choose ${FIREWALLS.join(' or ')}`));
    if (!FORWARDS.includes(forward)) ds.push(diag(Code.SCHEMA, 'error', `proxmox: forward=${forward} is not a choice`, at, `choose ${FORWARDS.join(' or ')}`));
    if (ds.length) return { files, diagnostics: ds };
    const enforcing = new Set([...ir.chains.values()].map((c) => c.enforcedOn));
    const hypers = [...ir.model.hosts.values()].filter((h) => h.kind === 'hypervisor' && enforcing.has(h.name)).sort((a, b) => a.name.localeCompare(b.name));
    const others = [...enforcing].filter((h) => !hypers.some((x) => x.name === h)).sort();
    if (others.length && (opts.host === undefined || others.includes(opts.host))) {
      const list = opts.host !== undefined ? [opts.host] : others;
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          opts.host !== undefined ? 'error' : 'info',
          `proxmox: ${list.join(', ')} ${list.length === 1 ? 'is' : 'are'} not a Proxmox hypervisor; ${list.length === 1 ? 'its' : 'their'} chains (${[
            ...ir.chains.values(),
          ]
            .filter((c) => list.includes(c.enforcedOn))
            .map((c) => c.point)
            .sort()
            .join(', ')}) are not in the Proxmox files`,
          at,
          'render them with -t iptables or -t nftables',
        ),
      );
    }
    if (hypers.length === 0)
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'error',
          'proxmox: the spec has no hypervisor with a chain to enforce, so there is nothing for Proxmox to run',
          at,
          'declare the Proxmox node as kind: hypervisor',
        ),
      );
    for (const h of hypers) {
      if (opts.host !== undefined && opts.host !== h.name) continue;
      files.push(...renderHyper(ir, h, firewall, forward, ds));
    }
    return { files, diagnostics: ds };
  },
};

/** The guests whose per-guest chains this hypervisor runs, by vmid (then name). */
function guestsOf(ir: Ir, h: Host): Host[] {
  const names = new Set([...ir.chains.values()].filter((c) => c.enforcedOn === h.name && (c.hook === 'guest-in' || c.hook === 'guest-out')).map((c) => c.host));
  return [...names].map((n) => ir.model.hosts.get(n)!).sort((a, b) => (a.id ?? Infinity) - (b.id ?? Infinity) || a.name.localeCompare(b.name));
}

/** A guest whose <vmid>.fw turns Proxmox's ipfilter on: its addresses are bound to its ports. */
function heldByIpfilter(ir: Ir, h: Host, g: Host): boolean {
  return g.antiSpoof && g.id !== undefined && ir.chains.get(`${g.name}:guest-out`)?.enforcedOn === h.name;
}

function ownedNetworks(model: Model, h: Host): Network[] {
  return [...model.networks.values()].filter((n) => n.owner === h.name).sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The network whose bridge takes the uplink as a port: the first with egress nat whose gateway is
 * a router outside the hypervisor (seed 000's vmbr0 behind its router). Where the hypervisor holds
 * the gateway itself it routes and masquerades, and cordon's rules match the uplink by name
 * (`-i enp1s0`, the WireGuard transport): enslaved to a bridge, the uplink would never be a
 * packet's interface, and the LAN behind it would be bridged to the guests past the forward chain.
 */
function uplinkNetwork(model: Model, h: Host): Network | undefined {
  if (!h.uplink) return undefined;
  const own = new Set(h.nics.map((n) => n.address));
  return ownedNetworks(model, h).find((n) => n.ports.length === 0 && n.egress === 'nat' && n.gateway !== undefined && !own.has(n.gateway));
}

function renderHyper(ir: Ir, h: Host, firewall: Firewall, forward: Forward, ds: Diagnostic[]): RenderedFile[] {
  const model = ir.model;
  const at = { file: model.file, line: h.origin.line, col: h.origin.col, path: h.origin.path };
  const names = new Directory(model);
  const spoofers = (network: string): string[] =>
    [...model.hosts.values()]
      .filter((g) => !g.trusted && g.nics.some((n) => n.segment === network && n.port !== undefined) && !heldByIpfilter(ir, h, g))
      .map((g) => g.name)
      .sort();
  const env: Env = { model, names, ds, spoofers };
  const chain = (hook: string): Chain | undefined => {
    const c = ir.chains.get(`${h.name}:${hook}`);
    return c && c.enforcedOn === h.name ? c : undefined;
  };
  const input = chain('input');
  const output = chain('output');
  const fwd = chain('forward');

  const hostZone = (c: Chain, dir: Zone['dir']): Zone => ({ dir, level: 'host', hyper: h, guest: undefined, chain: c, ipfilter: false });
  const hostRules: FwRule[] = [];
  if (input) hostRules.push(...translateChain(env, hostZone(input, 'IN')));
  if (output) hostRules.push(...translateChain(env, hostZone(output, 'OUT')));
  let forwardNative = false;
  if (fwd) {
    const n = fwd.rules.filter((r) => r.role !== 'stateful').length;
    const rules = `${n} rule${n === 1 ? '' : 's'}`;
    if (forward === 'nftables') {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'info',
          `proxmox: ${fwd.point} (${rules}, default ${fwd.policy}) is left to cordon's nftables rule set, as asked`,
          at,
          `load \`cordon render -t nftables --host ${h.name}\` on ${h.name} beside the Proxmox firewall`,
        ),
      );
    } else if (firewall === 'pve-firewall') {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'error',
          `proxmox: pve-firewall ignores FORWARD rules (Proxmox VE docs: "Any forward rules will be ignored by the stock pve-firewall"), so ${fwd.point} (${rules}, default ${fwd.policy}) cannot be rendered: forwarded and bridged traffic between guests and the internet would not be filtered`,
          at,
          `render the forward path with \`cordon render -t nftables --host ${h.name}\` and pass -p forward=nftables, or run proxmox-firewall and pass -p firewall=proxmox-firewall`,
        ),
      );
    } else {
      forwardNative = true;
      hostRules.push(...translateChain(env, hostZone(fwd, 'FORWARD')));
      for (const net of ownedNetworks(model, h)) {
        const ports = [...model.hosts.values()]
          .filter((g) => g.nics.some((n) => n.segment === net.name && n.port !== undefined))
          .map((g) => g.name)
          .sort();
        const uplink = uplinkNetwork(model, h)?.name === net.name ? h.uplink : undefined;
        if (ports.length + (uplink ? 1 : 0) < 2) continue;
        const between = [...ports, ...(uplink ? [`the uplink ${uplink}`] : [])];
        ds.push(
          diag(
            Code.TARGET_CANNOT_EXPRESS,
            'error',
            `proxmox: traffic bridged on ${net.bridge} between ${between.join(', ')} never passes host-level FORWARD rules (Proxmox VE docs: host forward rules see routed traffic; bridged traffic is VNet-level, SDN only), so ${fwd.point}'s default ${fwd.policy} would not hold there`,
            at,
            `render the forward path with \`cordon render -t nftables --host ${h.name}\` (it filters bridged traffic through br_netfilter) and pass -p forward=nftables`,
          ),
        );
      }
    }
  }

  // Per-guest files.
  const guestFiles: { guest: Host; vmid: number; rules: FwRule[]; ipfilter: Map<number, string[]>; chains: Chain[] }[] = [];
  for (const g of guestsOf(ir, h)) {
    const gat = { file: model.file, line: g.origin.line, col: g.origin.col, path: g.origin.path };
    const chains = [ir.chains.get(`${g.name}:guest-out`), ir.chains.get(`${g.name}:guest-in`)].filter(
      (c): c is Chain => c !== undefined && c.enforcedOn === h.name,
    );
    if (g.id === undefined) {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'error',
          `proxmox: guest '${g.name}' has no id, and a Proxmox guest firewall file is named by its vmid (/etc/pve/firewall/<vmid>.fw); ${chains.map((c) => c.point).join(' and ')} cannot be rendered`,
          gat,
          `set hosts.${g.name}.id to its Proxmox vmid`,
        ),
      );
      continue;
    }
    if (g.kind !== 'vm' && g.kind !== 'container') {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'error',
          `proxmox: '${g.name}' is a ${g.kind}, not a Proxmox VM or container, so it has no <vmid>.fw`,
          gat,
          'render its chains with -t nftables or -t iptables',
        ),
      );
      continue;
    }
    const rules: FwRule[] = [];
    const out = chains.find((c) => c.hook === 'guest-out');
    const inn = chains.find((c) => c.hook === 'guest-in');
    if (out) rules.push(...translateChain(env, { dir: 'OUT', level: 'guest', hyper: h, guest: g, chain: out, ipfilter: g.antiSpoof }));
    if (inn) rules.push(...translateChain(env, { dir: 'IN', level: 'guest', hyper: h, guest: g, chain: inn, ipfilter: g.antiSpoof }));
    const ipfilter = new Map<number, string[]>();
    if (g.antiSpoof) {
      for (const n of g.nics) {
        if (!n.port || model.networks.get(n.segment)?.owner !== h.name) continue;
        const m = /^(?:tap|veth)(\d+)i(\d+)$/.exec(n.port);
        if (!m || Number(m[1]) !== g.id) {
          ds.push(
            diag(
              Code.TARGET_CANNOT_EXPRESS,
              'error',
              `proxmox: port ${n.port} of '${g.name}' is not named tap${g.id}i<N> or veth${g.id}i<N>, so its ipfilter-net<N> set cannot be named`,
              gat,
              `leave hosts.${g.name}.nics.${n.segment}.port unset, or use Proxmox's name`,
            ),
          );
          continue;
        }
        const idx = Number(m[2]);
        ipfilter.set(idx, [...(ipfilter.get(idx) ?? []), formatIPv4(n.address)]);
      }
    }
    guestFiles.push({ guest: g, vmid: g.id, rules, ipfilter, chains });
  }

  // In-guest chains of guests on this node run inside the guests: not Proxmox's business.
  for (const c of ir.chains.values()) {
    if (c.inGuest && c.enforcedOn !== h.name && model.hosts.get(c.enforcedOn)?.nics.some((n) => model.networks.get(n.segment)?.owner === h.name)) {
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'info',
          `proxmox: ${c.point} runs inside ${c.enforcedOn}, not on ${h.name}; Proxmox's firewall does not reach into guests`,
          at,
          `render it with -t iptables --host ${c.enforcedOn} or -t nftables --host ${c.enforcedOn}`,
        ),
      );
    }
  }

  // NAT lives in the nftables rule set, loaded in one transaction with the forward path; post-up
  // iptables lines (as Proxmox's docs show) would match the source prefix, which a guest can forge.
  const nat = natRules(model, h.name);
  if (nat.length > 0 && forward === 'native')
    ds.push(
      diag(
        Code.TARGET_CANNOT_EXPRESS,
        'info',
        `proxmox: ${h.name} masquerades ${nat.map((r) => r.network.name).join(', ')} (egress: nat), which Proxmox's firewall files cannot say`,
        at,
        `load \`cordon render -t nftables --host ${h.name}\` on ${h.name}: its table ip ${natTableName(h.name)} does the NAT (or pass -p forward=nftables)`,
      ),
    );

  // Port forwards are DNAT, which Proxmox's firewall files cannot say either: the same table does them.
  for (const f of forwardRules(model, h.name))
    ds.push(
      diag(
        Code.TARGET_CANNOT_EXPRESS,
        'warning',
        `proxmox: ${h.name} forwards ${f.ports.map((p) => `${p.proto}/${portRange(p.public)}`).join(', ')} to ${f.host}.${f.service} (DNAT), which Proxmox's firewall files cannot say`,
        { file: model.file, line: f.origin.line, col: f.origin.col, path: f.origin.path },
        `load \`cordon render -t nftables --host ${h.name}\` on ${h.name}: its table ip ${natTableName(h.name)} does the DNAT (host.fw and the guests' files let only those ports through)`,
      ),
    );

  const groups = factorGroups(guestFiles);
  const files: RenderedFile[] = [];
  files.push({ path: `${h.name}/cluster.fw`, content: renderCluster(ir, h, firewall, forwardNative, input, output, fwd, names, groups), secret: false });
  files.push({ path: `${h.name}/host.fw`, content: renderHost(ir, h, firewall, forward, forwardNative, input, output, fwd, hostRules), secret: false });
  for (const gf of guestFiles) files.push({ path: `${h.name}/${gf.vmid}.fw`, content: renderGuest(ir, h, firewall, gf, groups), secret: false });
  files.push({ path: `${h.name}/interfaces`, content: renderInterfaces(model, h, ds), secret: false });
  const nics = renderGuestNics(ir, h);
  if (nics !== undefined) files.push({ path: `${h.name}/guest-nics.sh`, content: nics, secret: false, executable: true });
  return files;
}

/** A run of rules, from one policy rule in one direction, that several guests share word for word. */
interface Group {
  readonly name: string;
  readonly key: string;
  readonly rules: readonly FwRule[];
  readonly comment: string;
}

function runsOf(rules: readonly FwRule[]): FwRule[][] {
  const runs: FwRule[][] = [];
  for (const r of rules) {
    const last = runs[runs.length - 1];
    const prev = last?.[last.length - 1];
    if (last && prev && r.policyIndex !== undefined && prev.policyIndex === r.policyIndex && prev.dir === r.dir) last.push(r);
    else runs.push([r]);
  }
  return runs;
}

function runKey(run: readonly FwRule[]): string | undefined {
  const first = run[0];
  if (first?.policyIndex === undefined) return undefined;
  return [`policy[${first.policyIndex}] ${first.dir}`, ...run.map(ruleText)].join('\n');
}

/** Security groups for rule runs that two or more guests share (Proxmox: `GROUP name` in <vmid>.fw). */
function factorGroups(files: readonly { rules: FwRule[] }[]): Map<string, Group> {
  const count = new Map<string, number>();
  for (const f of files) {
    for (const k of new Set(runsOf(f.rules).map(runKey))) if (k !== undefined) count.set(k, (count.get(k) ?? 0) + 1);
  }
  const groups = new Map<string, Group>();
  const alloc = proxmoxNames(MAX_GROUP_NAME);
  for (const f of files) {
    for (const run of runsOf(f.rules)) {
      const k = runKey(run);
      if (k === undefined || (count.get(k) ?? 0) < 2 || groups.has(k)) continue;
      const first = run[0]!;
      const name = alloc.take(`cordon-p${first.policyIndex}-${first.dir.toLowerCase()}`);
      groups.set(k, { name, key: k, rules: run, comment: first.policyText });
    }
  }
  return groups;
}

function fwHeader(ir: Ir, what: string, firewall: Firewall): string[] {
  return commented(
    [
      ...headerLines(ir.model, what),
      `Firewall: ${firewall}${firewall === 'proxmox-firewall' ? ' (nftables; host.fw sets nftables: 1)' : ' (iptables)'}. Both read this format; see the notes below for where they differ.`,
    ],
    '# ',
  );
}

function policyWord(c: Chain | undefined, fallback: 'ACCEPT' | 'DROP'): string {
  return c ? (c.policy === 'drop' ? 'DROP' : 'ACCEPT') : fallback;
}

function renderCluster(
  ir: Ir,
  h: Host,
  firewall: Firewall,
  forwardNative: boolean,
  input: Chain | undefined,
  output: Chain | undefined,
  fwd: Chain | undefined,
  names: Directory,
  groups: Map<string, Group>,
): string {
  const e = new Emitter('');
  e.lines_(fwHeader(ir, `Proxmox VE datacenter firewall for ${h.name}: install as /etc/pve/firewall/cluster.fw.`, firewall));
  e.line(`# cordon models one Proxmox node: this file is cluster-wide, so merge it by hand when ${h.name} shares a cluster.`);
  e.line('# Rules refer to the names below as dc/<alias> and +dc/<ipset> (Proxmox VE 8 scoped names).');
  e.line("# Proxmox's own host rules come first and stay: loopback, replies, IGMP, ICMP errors, corosync");
  e.line('# (udp/5405-5412), and tcp 8006, 22, 3128 and 5900-5999 from the IP set "management". cordon');
  e.line(`# sets management and local_network to ${h.name}'s own address, so only the spec's rules open ${h.name}`);
  e.line('# to others: to keep the web GUI reachable, give it a service (gui: tcp/8006) and an allow rule.');
  e.line('# cordon does not model IPv6; rules without addresses match IPv6 as well.');
  e.gap();
  e.line('[OPTIONS]');
  e.gap();
  e.line('enable: 1');
  e.line(`policy_in: ${policyWord(input, 'ACCEPT')}`);
  e.line(`policy_out: ${policyWord(output, 'ACCEPT')}`);
  if (firewall === 'proxmox-firewall') {
    e.line(`policy_forward: ${forwardNative ? policyWord(fwd, 'ACCEPT') : 'ACCEPT'}`);
  }
  e.gap();
  e.line('[ALIASES]');
  e.gap();
  const local = localAddress(ir.model, h);
  if (local !== undefined) e.line(`local_network ${formatIPv4(local)} # cordon: ${h.name} itself (Proxmox adds it to management)`);
  for (const a of names.aliases) e.line(`${a.name} ${prefixesOf(a.set)[0]} # ${fwComment(a.comment)}`);
  e.gap();
  e.line(`[IPSET management] # ${fwComment(`cordon: only ${h.name} itself; the spec's rules open the rest`)}`);
  e.gap();
  for (const p of prefixesOf(ownSet(h))) e.line(p);
  for (const s of names.ipsetsToDefine()) {
    e.gap();
    ipset(e, s);
  }
  for (const g of [...groups.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    e.gap();
    e.line(`[group ${g.name}] # ${g.comment}`);
    e.gap();
    for (const r of g.rules) e.line(formatRule(r, g.comment));
  }
  e.gap();
  e.line('[RULES]');
  e.gap();
  e.line(`# (none: ${h.name}'s rules are in its host.fw, the guests' in their <vmid>.fw)`);
  return e.toString();
}

function ipset(e: Emitter, s: Named): void {
  e.line(`[IPSET ${s.name}] # ${fwComment(s.comment)}`);
  e.gap();
  for (const p of prefixesOf(s.set)) e.line(p);
}

function ownSet(h: Host): [number, number][] {
  return [...new Set(h.nics.map((n) => n.address))].sort((a, b) => a - b).map((a) => [a, a]);
}

/** The hypervisor's address for Proxmox's local_network: on a network with egress, else its first. */
function localAddress(model: Model, h: Host): number | undefined {
  const owned = h.nics.filter((n) => model.networks.has(n.segment));
  return (owned.find((n) => model.networks.get(n.segment)!.egress !== 'none') ?? owned[0] ?? h.nics[0])?.address;
}

function renderHost(
  ir: Ir,
  h: Host,
  firewall: Firewall,
  forward: Forward,
  forwardNative: boolean,
  input: Chain | undefined,
  output: Chain | undefined,
  fwd: Chain | undefined,
  rules: FwRule[],
): string {
  const e = new Emitter('');
  e.lines_(fwHeader(ir, `Proxmox VE host firewall for ${h.name}: install as /etc/pve/nodes/<node>/host.fw on the node ${h.name}.`, firewall));
  e.line(`# IN: ${input ? `${input.point}` : 'none'}; OUT: ${output ? output.point : 'none'}; policies are in cluster.fw.`);
  if (fwd) {
    if (forwardNative) {
      e.line(`# FORWARD: ${fwd.point}. Only proxmox-firewall applies FORWARD rules (pve-firewall ignores them), and at`);
      e.line('# host level only to routed traffic; bridged traffic between guests is VNet-level (SDN).');
    } else if (forward === 'nftables') {
      e.line(`# FORWARD: ${fwd.point} is enforced by cordon's nftables rule set (cordon render -t nftables --host ${h.name}),`);
      e.line('# loaded beside this firewall: a forwarded packet must pass both.');
    } else {
      e.line(`# FORWARD: ${fwd.point} is NOT here: pve-firewall ignores FORWARD rules (see cordon's error).`);
    }
  }
  e.line('# Replies (established/related), invalid packets and loopback are handled by Proxmox before these rules.');
  e.gap();
  e.line('[OPTIONS]');
  e.gap();
  e.line('enable: 1');
  if (firewall === 'proxmox-firewall') e.line('nftables: 1');
  e.line('ndp: 1');
  if (input?.policy === 'drop') e.line('log_level_in: info');
  if (output?.policy === 'drop') e.line('log_level_out: info');
  if (firewall === 'proxmox-firewall' && forwardNative && fwd?.policy === 'drop') e.line('log_level_forward: info');
  e.gap();
  e.line('[RULES]');
  e.gap();
  let dir = '';
  for (const r of rules) {
    if (r.dir !== dir) {
      e.gap();
      dir = r.dir;
      const c = dir === 'IN' ? input : dir === 'OUT' ? output : fwd;
      e.line(`# ${dir}: ${c?.point}, default ${c?.policy}`);
    }
    e.line(formatRule(r));
  }
  if (rules.length === 0) e.line('# (no rules: the policies in cluster.fw decide)');
  return e.toString();
}

function renderGuest(
  ir: Ir,
  h: Host,
  firewall: Firewall,
  gf: { guest: Host; vmid: number; rules: FwRule[]; ipfilter: Map<number, string[]>; chains: Chain[] },
  groups: Map<string, Group>,
): string {
  const g = gf.guest;
  const out = gf.chains.find((c) => c.hook === 'guest-out');
  const inn = gf.chains.find((c) => c.hook === 'guest-in');
  const nets = [...gf.ipfilter.keys()].sort((a, b) => a - b);
  const e = new Emitter('');
  e.lines_(
    fwHeader(
      ir,
      `Proxmox VE firewall for ${g.kind === 'container' ? 'CT' : 'VM'} ${gf.vmid} (${g.name}) on ${h.name}: install as /etc/pve/firewall/${gf.vmid}.fw.`,
      firewall,
    ),
  );
  e.line(`# OUT: ${out?.point ?? 'none'}; IN: ${inn?.point ?? 'none'}.`);
  e.line(
    `# The rules apply only to network devices with the firewall flag: set firewall=1 on ${nets.length ? nets.map((n) => `net${n}`).join(', ') : `each netN`} of ${gf.vmid}.`,
  );
  if (g.antiSpoof) e.line("# ipfilter: each netN may send only from the addresses in its ipfilter-netN set (cordon's anti-spoofing).");
  e.line('# Replies (established/related) and invalid packets are handled by Proxmox before these rules.');
  if (firewall === 'proxmox-firewall' && gf.rules.some((r) => r.action === 'REJECT'))
    e.line('# proxmox-firewall cannot REJECT guest traffic: REJECT rules drop instead.');
  e.gap();
  e.line('[OPTIONS]');
  e.gap();
  e.line('enable: 1');
  e.line(`policy_in: ${policyWord(inn, 'ACCEPT')}`);
  e.line(`policy_out: ${policyWord(out, 'ACCEPT')}`);
  if (g.antiSpoof) e.line('ipfilter: 1');
  e.line('dhcp: 0');
  e.line('ndp: 1');
  if (inn?.policy === 'drop') e.line('log_level_in: info');
  if (out?.policy === 'drop') e.line('log_level_out: info');
  for (const n of nets) {
    e.gap();
    e.line(`[IPSET ipfilter-net${n}] # ${fwComment(`cordon: ${g.name} may send only from these on net${n}`)}`);
    e.gap();
    for (const a of gf.ipfilter.get(n)!) e.line(a);
  }
  e.gap();
  e.line('[RULES]');
  e.gap();
  let dir = '';
  for (const run of runsOf(gf.rules)) {
    const first = run[0]!;
    if (first.dir !== dir) {
      e.gap();
      dir = first.dir;
      const c = dir === 'OUT' ? out : inn;
      e.line(`# ${dir}: ${c?.point}, default ${c?.policy}`);
    }
    const k = runKey(run);
    const grp = k !== undefined ? groups.get(k) : undefined;
    if (grp) e.line(`GROUP ${grp.name} # ${grp.comment}`);
    else for (const r of run) e.line(formatRule(r));
  }
  if (gf.rules.length === 0) e.line('# (no rules: the policies above decide)');
  return e.toString();
}

/** Bridges in /etc/network/interfaces form (Proxmox's ifupdown2), like seed 000's step 1. */
function renderInterfaces(model: Model, h: Host, ds: Diagnostic[]): string {
  const e = new Emitter('    ');
  e.lines_(
    commented(
      [
        ...headerLines(model, `Bridges of ${h.name} for /etc/network/interfaces (ifupdown2, as Proxmox writes them); apply with ifreload -a.`),
        "Merge into the node's /etc/network/interfaces: Proxmox's GUI edits that file; lo and other interfaces stay as they are.",
      ],
      '# ',
    ),
  );
  const nets = ownedNetworks(model, h);
  const withUplink = uplinkNetwork(model, h);
  const own = new Set(h.nics.map((n) => n.address));
  const outside = nets.filter((n) => n.egress === 'nat' && n.gateway !== undefined && !own.has(n.gateway));
  if (h.uplink && withUplink && outside.length > 1) {
    ds.push(
      diag(
        Code.TARGET_CANNOT_EXPRESS,
        'warning',
        `proxmox: ${h.name}'s uplink ${h.uplink} can be a port of one bridge; it joins ${withUplink.bridge}, and ${outside
          .filter((n) => n !== withUplink)
          .map((n) => n.bridge)
          .join(', ')} get bridge-ports none, so their gateways are not reachable through it`,
        { file: model.file, line: h.origin.line, col: h.origin.col, path: h.origin.path },
        'give each such network its own uplink, or route them through the hypervisor',
      ),
    );
  }
  if (nets.length === 0) e.line(`# (${h.name} owns no network: no bridges)`);
  if (withUplink && h.uplink) {
    e.gap();
    e.line(`iface ${ifname(h.uplink)} inet manual`);
  }
  for (const net of nets) {
    const nic = h.nics.find((n) => n.segment === net.name)!;
    for (const port of net.ports) {
      if (withUplink && port === h.uplink) continue;
      e.gap();
      e.line(`# ${ifname(port)}: physical port of ${ifname(net.bridge)}; the LAN beyond it shares ${inert(net.name)}, bridged to its guests`);
      e.line(`iface ${ifname(port)} inet manual`);
    }
    e.gap();
    const routedBy =
      net.egress !== 'none' && net.gateway !== undefined && own.has(net.gateway)
        ? `; ${h.name} routes it${
            net.egress === 'nat'
              ? ` and masquerades it through ${
                  natRules(model, h.name)
                    .find((r) => r.network === net)
                    ?.outIfs.join(', ') ??
                  h.uplink ??
                  'its uplink'
                } (table ip ${natTableName(h.name)} of cordon's nftables rule set, not post-up lines)`
              : ''
          }`
        : '';
    e.line(
      `# ${inert(net.name)}: ${inert(net.origin.text)}, egress ${net.egress}${routedBy}${net === withUplink ? `; its gateway is a router behind ${h.uplink}, which joins the bridge` : ''}`,
    );
    e.line(`auto ${ifname(net.bridge)}`);
    e.block(
      `iface ${ifname(net.bridge)} inet static`,
      () => {
        e.line(`address ${formatIPv4(nic.address)}/${net.cidr.len}`);
        if (h.defaultRoute.kind === 'gateway' && h.defaultRoute.segment === net.name) e.line(`gateway ${formatIPv4(h.defaultRoute.via)}`);
        e.line(`bridge-ports ${net.ports.length > 0 ? net.ports.map(ifname).join(' ') : net === withUplink && h.uplink ? ifname(h.uplink) : 'none'}`);
        e.line('bridge-stp off');
        e.line('bridge-fd 0');
      },
      '',
    );
  }
  return e.toString();
}
