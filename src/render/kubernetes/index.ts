/**
 * kubernetes target: the policy for users who run their agents as pods.
 *
 *   kubernetes/networkpolicies.yaml        networking.k8s.io/v1 NetworkPolicy, one per host
 *   kubernetes/ciliumnetworkpolicies.yaml  cilium.io/v2 CiliumNetworkPolicy, one per host
 *
 * Hosts are pods labelled `cordon.dev/host: <name>`; a group of hosts is the label
 * `cordon.dev/group-<g>: "true"`. Each policy selects its pod and sets both directions to default
 * deny. This is an intent-level target: it reads the ordered policy (model.policy) and each host's
 * egress mode, not the IR chains, because pods have no bridge, port or forward path.
 *
 * cordon's rules are ordered and the first match wins, so an earlier deny beats a later allow.
 * NetworkPolicy can only allow: every allow has the earlier denies subtracted from it (peers
 * removed, ipBlock `except`, ports split). Where the remainder cannot be written — ICMP or other
 * protocols left over, ports that are not TCP/UDP — those flows are left out (stricter than the
 * spec) with a CORDON012 (target cannot express) diagnostic pointing to the Cilium output, which has real denies. Cilium
 * denies override every allow, whatever the order, so there each deny has the earlier allows
 * subtracted instead, and the allows are written as they are.
 */
import { diag, type Diagnostic, type Severity } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Ir } from '../../ir/types.js';
import { NOT_INTERNET, targetAddrs } from '../../model/addresses.js';
import { shortHash } from '../../model/names.js';
import type { Host, Model, Origin, PolicyRule, Target } from '../../model/types.js';
import { ALL_FLOWS, flowIntersect, flowIsEmpty, flowUnion, NO_FLOWS, type FlowSet } from '../../util/flows.js';
import { formatCidr, networkOf, rangeToCidrs, type Cidr } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { commented, Emitter, headerLines } from '../emit.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';
import { fastYamlLines } from './yaml-fast.js';
import { ALL_PEERS, hasPod, isAllFlows, mergePieces, NO_PEERS, peersUnion, pieceIntersect, pieceSubtract, type Peers, type Piece } from './peers.js';

export const HOST_LABEL = 'cordon.dev/host';
export const GROUP_LABEL_PREFIX = 'cordon.dev/group-';
/** ICMP types a Cilium allow of `icmp` names (Cilium has no "every type"): echo request. */
const ICMP_ALLOW_TYPES = [8] as const;

export const kubernetesRenderer: Renderer = {
  name: 'kubernetes',
  description: 'NetworkPolicy and CiliumNetworkPolicy per host (pods labelled cordon.dev/host=<name>) from the policy',
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const k = new K8s(ir.model);
    const hosts = [...ir.model.hosts.values()].sort((a, b) => cmp(a.name, b.name)).filter((h) => opts.host === undefined || h.name === opts.host);
    if (opts.host !== undefined && hosts.length === 0) k.diag(Code.UNKNOWN_NAME, 'error', `unknown host '${opts.host}'`, undefined);
    const np: PolicyDoc[] = [];
    const cnp: PolicyDoc[] = [];
    for (const h of hosts) {
      const egress = k.entries(h, 'egress');
      const ingress = k.entries(h, 'ingress');
      np.push(k.networkPolicy(h, egress, ingress));
      cnp.push(k.ciliumPolicy(h, egress, ingress));
    }
    const files: RenderedFile[] = [];
    if (hosts.length > 0) {
      files.push({ path: 'kubernetes/networkpolicies.yaml', content: k.file('NetworkPolicy (networking.k8s.io/v1)', np, NP_NOTES), secret: false });
      files.push({ path: 'kubernetes/ciliumnetworkpolicies.yaml', content: k.file('CiliumNetworkPolicy (cilium.io/v2)', cnp, CNP_NOTES), secret: false });
    }
    return { files, diagnostics: k.diagnostics() };
  },
};

const NP_NOTES = [
  'Apply all of them in the namespace of the pods: kubectl apply -n NAMESPACE -f networkpolicies.yaml.',
  'Each policy selects one pod and denies both directions by default; replies to allowed connections pass.',
  'Cluster DNS (kube-dns) is reachable only where the spec allows it.',
  'ipBlock is for addresses outside the cluster: which pod addresses it matches is up to the network plugin.',
  'NetworkPolicy cannot deny or name ICMP: see ciliumnetworkpolicies.yaml where cordon reports it.',
];

const CNP_NOTES = [
  'Apply all of them in the namespace of the pods: kubectl apply -n NAMESPACE -f ciliumnetworkpolicies.yaml.',
  'Each policy selects one pod and enables default deny both ways; replies to allowed connections pass.',
  'Cluster DNS (kube-dns) is reachable only where the spec allows it.',
  'Cilium denies win over every allow, so each deny here has the earlier allows of the spec taken out,',
  'and a deny is written only where a later allow would otherwise admit what it denies.',
  `An allowed "icmp" is ICMP echo request (type ${ICMP_ALLOW_TYPES.join(', ')}); a denied one is every ICMP type.`,
];

type Direction = 'egress' | 'ingress';

/** One step of a host's first-match list in one direction. */
interface Entry {
  readonly action: 'allow' | 'deny';
  readonly pieces: readonly Piece[];
  readonly origin: Origin;
  readonly rule: PolicyRule | undefined;
}

interface PolicyDoc {
  readonly comments: string[];
  readonly body: unknown;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_NAME = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;

class K8s {
  private readonly ds = new Map<string, Diagnostic>();
  /** Groups usable as pod labels: only hosts as members, a valid label name, two or more hosts. */
  private readonly groupLabels: { name: string; label: string; hosts: ReadonlySet<string> }[] = [];
  private readonly names = new Map<string, string>();

  constructor(private readonly model: Model) {
    for (const [g, members] of [...model.groups.entries()].sort((a, b) => cmp(a[0], b[0]))) {
      const hosts = new Set<string>();
      let onlyHosts = members.length > 0;
      for (const t of members) {
        if (t.kind === 'host') hosts.add(t.host);
        else onlyHosts = false;
      }
      const name = `group-${g}`;
      if (onlyHosts && hosts.size >= 2 && LABEL_NAME.test(name) && name.length <= 63)
        this.groupLabels.push({ name: g, label: `${GROUP_LABEL_PREFIX}${g}`, hosts });
    }
    this.groupLabels.sort((a, b) => b.hosts.size - a.hosts.size || cmp(a.name, b.name));
    const used = new Set<string>();
    for (const h of [...model.hosts.keys()].sort(cmp)) {
      if (!LABEL_VALUE.test(h)) {
        this.diag(
          Code.TARGET_CANNOT_EXPRESS,
          'error',
          `host name '${h}' cannot be a Kubernetes label value (letters, digits, '-', '_', '.', starting and ending with a letter or digit, at most 63)`,
          model.hosts.get(h)!.origin,
          'rename the host',
        );
      }
      let n = `cordon-${h
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .replace(/^-+|-+$/g, '')}`;
      if (n !== `cordon-${h}` || used.has(n)) n = `${n}-${shortHash(h, 5)}`;
      used.add(n);
      this.names.set(h, n);
    }
  }

  diag(
    code: typeof Code.UNKNOWN_NAME | typeof Code.TARGET_CANNOT_EXPRESS,
    severity: Severity,
    message: string,
    origin: Origin | undefined,
    hint?: string,
  ): void {
    const key = `${code}|${message}`;
    if (this.ds.has(key)) return;
    this.ds.set(
      key,
      diag(code, severity, message, origin ? { file: origin.file, line: origin.line, col: origin.col, path: origin.path } : { file: this.model.file }, hint),
    );
  }

  diagnostics(): Diagnostic[] {
    return [...this.ds.values()];
  }

  /** The labels each pod must carry for the selectors to mean what the spec says. */
  podLabels(host: string): Record<string, string> {
    const out: Record<string, string> = { [HOST_LABEL]: host };
    for (const g of [...this.groupLabels].sort((a, b) => cmp(a.label, b.label))) if (g.hosts.has(host)) out[g.label] = 'true';
    return out;
  }

  // ---- from the policy to first-match lists ----

  /**
   * The peers of a target, computed once per distinct target: entries() asks for every rule of
   * every host, and a network or address target scans every host, so without the cache a render
   * costs hosts × rules × hosts. Peers are never mutated, so sharing them is safe.
   */
  private readonly peersCache = new Map<string, Peers>();
  private readonly fromCache = new WeakMap<readonly Target[], Peers>();

  private targetPeers(t: Target): Peers {
    const key =
      t.kind === 'host' || t.kind === 'service'
        ? `h:${t.host}`
        : t.kind === 'network'
          ? `n:${t.network}`
          : t.kind === 'cidr'
            ? `c:${t.range.lo}-${t.range.hi}`
            : t.kind;
    let p = this.peersCache.get(key);
    if (p === undefined) {
      p = this.computeTargetPeers(t);
      this.peersCache.set(key, p);
    }
    return p;
  }

  private computeTargetPeers(t: Target): Peers {
    switch (t.kind) {
      case 'host':
      case 'service':
        return { allPods: false, pods: new Set([t.host]), ext: R.EMPTY };
      case 'network':
        return {
          allPods: false,
          pods: new Set([...this.model.hosts.values()].filter((h) => h.nics.some((n) => n.segment === t.network)).map((h) => h.name)),
          ext: R.EMPTY,
        };
      case 'cidr':
      case 'internet':
      case 'lan': {
        const addrs = targetAddrs(this.model, t);
        const pods = [...this.model.hosts.values()].filter((h) => h.nics.some((n) => R.contains(addrs, n.address))).map((h) => h.name);
        return { allPods: false, pods: new Set(pods), ext: addrs };
      }
      case 'any':
        return ALL_PEERS;
    }
  }

  private peersOf(ts: readonly Target[]): Peers {
    let p = this.fromCache.get(ts);
    if (p === undefined) {
      p = ts.reduce<Peers>((acc, t) => peersUnion(acc, this.targetPeers(t)), NO_PEERS);
      this.fromCache.set(ts, p);
    }
    return p;
  }

  private static flowsFor(rule: PolicyRule, t: Target): FlowSet {
    if (t.kind === 'service') return rule.ports ? flowIntersect(rule.ports, t.flows) : t.flows;
    return rule.ports ?? ALL_FLOWS;
  }

  /**
   * Per direction, the rules that can name each host (egress: in `from`; ingress: in `to`), so
   * entries() visits those instead of every rule for every host. `broad` holds the rules that
   * name every pod but a few; entries() still checks each rule, so the index only skips rules
   * that would have been skipped anyway.
   */
  private ruleIndex: Record<Direction, { byHost: Map<string, number[]>; broad: number[] }> | undefined;

  private indexRules(): Record<Direction, { byHost: Map<string, number[]>; broad: number[] }> {
    const idx: Record<Direction, { byHost: Map<string, number[]>; broad: number[] }> = {
      egress: { byHost: new Map(), broad: [] },
      ingress: { byHost: new Map(), broad: [] },
    };
    const add = (dir: Direction, peers: Peers, i: number): void => {
      const ix = idx[dir];
      if (peers.allPods) {
        if (ix.broad[ix.broad.length - 1] !== i) ix.broad.push(i);
        return;
      }
      for (const pod of peers.pods) {
        let list = ix.byHost.get(pod);
        if (list === undefined) ix.byHost.set(pod, (list = []));
        if (list[list.length - 1] !== i) list.push(i);
      }
    };
    this.model.policy.forEach((r, i) => {
      add('egress', this.peersOf(r.from), i);
      for (const t of r.to) add('ingress', this.targetPeers(t), i);
    });
    return idx;
  }

  /** Indexes (ascending, no repeats) of the policy rules that can apply to this host in this direction. */
  private rulesFor(host: string, dir: Direction): number[] {
    this.ruleIndex ??= this.indexRules();
    const { byHost, broad } = this.ruleIndex[dir];
    const own = byHost.get(host) ?? [];
    const out: number[] = [];
    let a = 0;
    let b = 0;
    while (a < own.length || b < broad.length) {
      const x = a < own.length ? own[a]! : Infinity;
      const y = b < broad.length ? broad[b]! : Infinity;
      if (x <= y) a++;
      if (y <= x) b++;
      out.push(Math.min(x, y));
    }
    return out;
  }

  /** The host's first-match list in one direction: egress mode first, then the policy, then `open`. */
  entries(h: Host, dir: Direction): Entry[] {
    const out: Entry[] = [];
    if (dir === 'egress') {
      if (h.egress === 'isolated') {
        out.push({
          action: 'deny',
          pieces: [{ peers: { allPods: false, pods: new Set(), ext: R.union(this.model.internet, this.model.lan) }, flows: ALL_FLOWS, cutBy: [] }],
          origin: { ...h.origin, text: `${h.name} egress: isolated (no internet, no LAN)` },
          rule: undefined,
        });
      } else if (h.egress === 'vpn-only') {
        this.diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `host '${h.name}' is vpn-only, which Kubernetes policies cannot express (pods have no tunnel): its pod gets no egress at all`,
          h.origin,
          'run the tunnel outside the cluster, or give the pod an explicit policy instead of vpn-only',
        );
        out.push({
          action: 'deny',
          pieces: [{ peers: ALL_PEERS, flows: ALL_FLOWS, cutBy: [] }],
          origin: { ...h.origin, text: `${h.name} egress: vpn-only (no tunnel in a cluster: nothing)` },
          rule: undefined,
        });
      }
    }
    for (const i of this.rulesFor(h.name, dir)) {
      const r = this.model.policy[i]!;
      const from = this.peersOf(r.from);
      let pieces: Piece[] = [];
      if (dir === 'egress') {
        if (!hasPod(from, h.name)) continue;
        for (const t of r.to) {
          const flows = K8s.flowsFor(r, t);
          if (!flowIsEmpty(flows)) pieces.push({ peers: this.targetPeers(t), flows, cutBy: [] });
        }
      } else {
        let flows: FlowSet = NO_FLOWS;
        for (const t of r.to) if (hasPod(this.targetPeers(t), h.name)) flows = flowUnion(flows, K8s.flowsFor(r, t));
        if (flowIsEmpty(flows)) continue;
        pieces.push({ peers: from, flows, cutBy: [] });
      }
      pieces = mergePieces(pieces);
      if (pieces.length === 0) continue;
      out.push({ action: r.action, pieces, origin: r.origin, rule: r });
      if (r.action === 'allow' && r.rate)
        this.diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `"${r.origin.text}": Kubernetes policies have no rate limits; the allow is written without '${r.rate}'`,
          r.origin,
        );
      if (r.log)
        this.diag(
          Code.TARGET_CANNOT_EXPRESS,
          'info',
          `"${r.origin.text}": Kubernetes policies cannot log; use the network plugin's flow logs (Hubble for Cilium)`,
          r.origin,
        );
    }
    if (dir === 'egress' && h.egress === 'open')
      out.push({
        action: 'allow',
        pieces: [{ peers: ALL_PEERS, flows: ALL_FLOWS, cutBy: [] }],
        origin: { ...h.origin, text: `${h.name} egress: open` },
        rule: undefined,
      });
    return out;
  }

  // ---- NetworkPolicy ----

  networkPolicy(h: Host, egress: readonly Entry[], ingress: readonly Entry[]): PolicyDoc {
    const comments = [`${this.names.get(h.name)}: ${h.name} (${h.kind})`];
    const spec: Record<string, unknown> = { podSelector: { matchLabels: { [HOST_LABEL]: h.name } }, policyTypes: ['Ingress', 'Egress'] };
    for (const dir of ['ingress', 'egress'] as const) {
      const entries = dir === 'egress' ? egress : ingress;
      const rules: unknown[] = [];
      const denies: { piece: Piece; entry: number }[] = [];
      entries.forEach((e, ei) => {
        if (e.action === 'deny') {
          for (const p of e.pieces) denies.push({ piece: p, entry: ei });
          return;
        }
        let rest: Piece[] = [...e.pieces];
        for (const d of denies) rest = rest.flatMap((p) => pieceSubtract(p, d.piece, d.entry));
        for (const p of mergePieces(rest)) {
          const rule = this.npRule(h, dir, p, e, entries);
          if (!rule) continue;
          const minus = p.cutBy.length ? `, minus ${p.cutBy.map((i) => `"${entries[i]!.origin.text}"`).join(', ')}` : '';
          comments.push(`  ${dir}[${rules.length}]: ${e.origin.text}${minus} (${where(e.origin)})`);
          rules.push(rule);
        }
      });
      if (rules.length) spec[dir] = rules;
      else comments.push(`  ${dir}: nothing allowed`);
    }
    return {
      comments,
      body: {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: this.names.get(h.name), labels: { 'app.kubernetes.io/managed-by': 'cordon' } },
        spec,
      },
    };
  }

  private npRule(h: Host, dir: Direction, p: Piece, e: Entry, entries: readonly Entry[]): Record<string, unknown> | undefined {
    const ports = portList(p.flows);
    if (ports.lost.length) {
      const lost = ports.lost.join(' and ');
      if (p.cutBy.length) {
        const denies = p.cutBy.map((i) => `"${entries[i]!.origin.text}"`).join(', ');
        this.diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `${dir} of '${h.name}': ${denies} cannot be expressed in NetworkPolicy: taking it out of "${e.origin.text}" leaves ${lost}, which NetworkPolicy cannot name, so networkpolicies.yaml leaves ${lost} out (stricter than the spec)`,
          entries[p.cutBy[0]!]!.origin,
          'ciliumnetworkpolicies.yaml expresses it exactly with egressDeny/ingressDeny',
        );
      } else {
        this.diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `${dir} of '${h.name}': "${e.origin.text}" allows ${lost}, which NetworkPolicy cannot express (it knows TCP, UDP and SCTP ports); networkpolicies.yaml leaves ${lost} out`,
          e.origin,
          'ciliumnetworkpolicies.yaml allows ICMP with icmps',
        );
      }
      if (ports.ports !== undefined && ports.ports.length === 0) return undefined;
    }
    const peers = this.npPeers(p.peers, h, dir, e);
    const rule: Record<string, unknown> = {};
    if (peers !== 'all') rule[dir === 'egress' ? 'to' : 'from'] = peers;
    if (ports.ports !== undefined)
      rule.ports = ports.ports.map((x) => ({
        protocol: x.protocol,
        ...(x.port !== undefined ? { port: x.port } : {}),
        ...(x.endPort !== undefined ? { endPort: x.endPort } : {}),
      }));
    return rule;
  }

  private npPeers(peers: Peers, h: Host, dir: Direction, e: Entry): unknown[] | 'all' {
    if (peers.allPods && peers.pods.size === 0 && R.equal(peers.ext, ALL_PEERS.ext)) return 'all';
    const out: unknown[] = [];
    if (peers.allPods) {
      const sel = peers.pods.size ? { matchExpressions: [{ key: HOST_LABEL, operator: 'NotIn', values: [...peers.pods].sort(cmp) }] } : {};
      out.push({ namespaceSelector: {}, podSelector: sel });
      if (peers.pods.size && R.intersect(peers.ext, NOT_INTERNET).length) {
        this.diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `${dir} of '${h.name}': "${e.origin.text}" leaves out pods ${[...peers.pods]
            .sort(cmp)
            .map((x) => `'${x}'`)
            .join(', ')}, but its ipBlock may still match their pod addresses (that is up to the network plugin)`,
          e.origin,
          'ciliumnetworkpolicies.yaml does not have this gap: Cilium CIDR rules never match pods',
        );
      }
    } else {
      for (const sel of this.podSelectors(peers.pods)) out.push({ podSelector: sel });
    }
    for (const b of ipBlocks(peers.ext)) out.push({ ipBlock: b });
    return out;
  }

  /** Label selectors covering exactly these hosts: group labels where a whole group fits, host labels for the rest. */
  private podSelectors(pods: ReadonlySet<string>): { matchLabels: Record<string, string> }[] {
    const left = new Set(pods);
    const out: { matchLabels: Record<string, string> }[] = [];
    for (const g of this.groupLabels) {
      if ([...g.hosts].every((x) => left.has(x))) {
        out.push({ matchLabels: { [g.label]: 'true' } });
        for (const x of g.hosts) left.delete(x);
      }
    }
    for (const x of [...left].sort(cmp)) out.push({ matchLabels: { [HOST_LABEL]: x } });
    return out;
  }

  // ---- CiliumNetworkPolicy ----

  ciliumPolicy(h: Host, egress: readonly Entry[], ingress: readonly Entry[]): PolicyDoc {
    const comments = [`${this.names.get(h.name)}: ${h.name} (${h.kind})`];
    const spec: Record<string, unknown> = { endpointSelector: { matchLabels: { [HOST_LABEL]: h.name } }, enableDefaultDeny: { ingress: true, egress: true } };
    for (const dir of ['ingress', 'egress'] as const) {
      const entries = dir === 'egress' ? egress : ingress;
      const allows: unknown[] = [];
      const denies: unknown[] = [];
      const earlier: { piece: Piece; entry: number }[] = [];
      entries.forEach((e, ei) => {
        if (e.action === 'allow') {
          for (const p of e.pieces) {
            const rules = this.cnpRules(h, dir, p, e, 'allow');
            for (const r of rules) {
              comments.push(`  ${dir}[${allows.length}]: ${e.origin.text} (${where(e.origin)})`);
              allows.push(r);
            }
            earlier.push({ piece: p, entry: ei });
          }
          return;
        }
        let rest: Piece[] = [...e.pieces];
        for (const a of earlier) rest = rest.flatMap((p) => pieceSubtract(p, a.piece, a.entry));
        // Default deny already refuses what no allow admits: a deny is needed only where a later allow would admit it.
        const later = entries
          .slice(ei + 1)
          .filter((x) => x.action === 'allow')
          .flatMap((x) => x.pieces);
        const needed = rest.flatMap((p) => later.map((a) => pieceIntersect(p, a)).filter((x): x is Piece => x !== undefined));
        if (needed.length === 0) comments.push(`  ${dir}Deny: not needed for "${e.origin.text}" — no later allow admits what it denies`);
        for (const p of mergePieces(needed)) {
          for (const r of this.cnpRules(h, dir, p, e, 'deny')) {
            const but = p.cutBy.length ? `, except what ${p.cutBy.map((i) => `"${entries[i]!.origin.text}"`).join(', ')} allowed first` : '';
            comments.push(`  ${dir}Deny[${denies.length}]: ${e.origin.text}${but} (${where(e.origin)})`);
            denies.push(r);
          }
        }
      });
      if (allows.length) spec[dir] = allows;
      if (!allows.length) {
        // Nothing is allowed: say so with a deny of everything, which every Cilium version enforces
        // (enableDefaultDeny is newer, and a policy needs at least one rule section).
        denies.splice(0, denies.length, { [`${dir === 'egress' ? 'to' : 'from'}Entities`]: ['all'] });
        comments.push(`  ${dir}Deny[0]: nothing is allowed`);
      }
      if (denies.length) spec[`${dir}Deny`] = denies;
    }
    return {
      comments,
      body: {
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: { name: this.names.get(h.name), labels: { 'app.kubernetes.io/managed-by': 'cordon' } },
        spec,
      },
    };
  }

  /** One Cilium rule per kind of peer selector (endpoints, entities, CIDRs), each with the piece's ports. */
  private cnpRules(h: Host, dir: Direction, p: Piece, e: Entry, action: 'allow' | 'deny'): Record<string, unknown>[] {
    const l4: Record<string, unknown>[] = [];
    if (!isAllFlows(p.flows)) {
      const ports = portList({ ...p.flows, icmp: false, other: false });
      if (ports.ports?.length) {
        const list = ports.ports.map((x) => ({
          ...(x.port !== undefined ? { port: String(x.port) } : {}),
          ...(x.endPort !== undefined ? { endPort: x.endPort } : {}),
          protocol: x.protocol,
        }));
        const chunks: unknown[] = [];
        for (let i = 0; i < list.length; i += 40) chunks.push({ ports: list.slice(i, i + 40) });
        l4.push({ toPorts: chunks });
      }
      if (p.flows.icmp) {
        const types = action === 'allow' ? [...ICMP_ALLOW_TYPES] : Array.from({ length: 256 }, (_, i) => i);
        const icmps: unknown[] = [];
        for (let i = 0; i < types.length; i += 40) icmps.push({ fields: types.slice(i, i + 40).map((type) => ({ family: 'IPv4', type })) });
        l4.push({ icmps });
      }
      if (p.flows.other) {
        const what = action === 'allow' ? `"${e.origin.text}" allows` : `"${e.origin.text}" denies`;
        this.diag(
          Code.TARGET_CANNOT_EXPRESS,
          'warning',
          `${dir} of '${h.name}': ${what} IP protocols other than TCP, UDP and ICMP, which CiliumNetworkPolicy cannot name; ciliumnetworkpolicies.yaml leaves them out${action === 'deny' ? ' of the deny' : ''}`,
          e.origin,
        );
      }
      if (l4.length === 0) return [];
    } else {
      l4.push({});
    }
    const sides = this.cnpPeers(p.peers, dir);
    const out: Record<string, unknown>[] = [];
    for (const s of sides) for (const x of l4) out.push({ ...s, ...x });
    return out;
  }

  private cnpPeers(peers: Peers, dir: Direction): Record<string, unknown>[] {
    const to = dir === 'egress' ? 'to' : 'from';
    if (peers.allPods && peers.pods.size === 0 && R.equal(peers.ext, ALL_PEERS.ext)) return [{ [`${to}Entities`]: ['all'] }];
    const out: Record<string, unknown>[] = [];
    if (peers.allPods) {
      if (peers.pods.size === 0) out.push({ [`${to}Entities`]: ['cluster'] });
      else out.push({ [`${to}Endpoints`]: [{ matchExpressions: [{ key: HOST_LABEL, operator: 'NotIn', values: [...peers.pods].sort(cmp) }] }] });
    } else if (peers.pods.size) {
      out.push({ [`${to}Endpoints`]: this.podSelectors(peers.pods) });
    }
    const blocks = ipBlocks(peers.ext);
    if (blocks.length) out.push({ [`${to}CIDRSet`]: blocks });
    return out;
  }

  // ---- files ----

  file(what: string, docs: readonly PolicyDoc[], notes: readonly string[]): string {
    const e = new Emitter();
    e.lines_(commented(headerLines(this.model, `Kubernetes ${what}, one per cordon host.`), '# '));
    e.lines_(commented(notes, '# '));
    e.line('#');
    e.line('# Labels each pod must carry:');
    for (const h of [...this.model.hosts.keys()].sort(cmp)) {
      e.line(
        `#   ${h}: ${Object.entries(this.podLabels(h))
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
      );
    }
    for (const d of docs) {
      e.line('---');
      e.lines_(commented(d.comments, '# '));
      e.lines_(fastYamlLines(d.body));
    }
    return e.toString();
  }
}

function where(o: Origin): string {
  const file = o.file.split('/').pop() ?? o.file;
  return `${o.path ? `${o.path}, ` : ''}${file}:${o.line}`;
}

interface PortItem {
  readonly protocol: 'TCP' | 'UDP';
  readonly port: number | undefined;
  readonly endPort: number | undefined;
}

/** TCP/UDP port ranges as NetworkPolicy/Cilium port items; `ports` undefined = every flow (no port list). */
function portList(f: FlowSet): { ports: PortItem[] | undefined; lost: string[] } {
  if (isAllFlows(f)) return { ports: undefined, lost: [] };
  const ports: PortItem[] = [];
  for (const [proto, set] of [
    ['TCP', f.tcp],
    ['UDP', f.udp],
  ] as const) {
    for (const [lo0, hi] of set) {
      if (lo0 <= 1 && hi === 65535) {
        ports.push({ protocol: proto, port: undefined, endPort: undefined });
        continue;
      }
      const lo = Math.max(lo0, 1);
      if (hi < lo) continue;
      ports.push({ protocol: proto, port: lo, endPort: hi > lo ? hi : undefined });
    }
  }
  const lost: string[] = [];
  if (f.icmp) lost.push('ICMP');
  if (f.other) lost.push('other IP protocols');
  return { ports, lost };
}

/** The smallest CIDR containing every address of the set. */
function coverOf(set: RangeSet): Cidr {
  const lo = set[0]![0];
  const hi = set[set.length - 1]![1];
  let len = 32;
  while (len > 0 && networkOf(lo, len) + 2 ** (32 - len) - 1 < hi) len--;
  return { addr: networkOf(lo, len), len };
}

/** Addresses as ipBlocks: plain CIDRs, or one covering CIDR with `except` when that is shorter. */
export function ipBlocks(set: RangeSet): { cidr: string; except?: string[] }[] {
  if (set.length === 0) return [];
  const plain = set.flatMap(([lo, hi]) => rangeToCidrs({ lo, hi }));
  const cover = coverOf(set);
  const holes = R.subtract([[networkOf(cover.addr, cover.len), networkOf(cover.addr, cover.len) + 2 ** (32 - cover.len) - 1]], set).flatMap(([lo, hi]) =>
    rangeToCidrs({ lo, hi }),
  );
  if (holes.length + 1 < plain.length) return [{ cidr: formatCidr(cover), except: holes.map(formatCidr) }];
  return plain.map((c) => ({ cidr: formatCidr(c) }));
}
