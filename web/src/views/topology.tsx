/**
 * The topology as a graph (Cytoscape): networks and tunnels as boxes, hosts as nodes coloured by
 * trust and outlined by egress mode, one edge per address. Beside it the same hosts as a list of
 * buttons (the keyboard's way in) and the chosen host's addresses, services, the rules that name it
 * (file:line) and the enforcement points that filter for it.
 */
import cytoscape from 'cytoscape';
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, versionPath, type Topology } from '../api';
import type { SpecRef } from '../main';
import { AGGREGATE_ABOVE } from '../limits';
import { ErrorBox, Loading, OriginRef, useLoad } from '../ui';

type Host = Topology['hosts'][number];

const EGRESS_BORDER: Record<Host['egress'], string> = { isolated: 'solid', filtered: 'dashed', 'vpn-only': 'double', open: 'dotted' };

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * A big spec's graph, aggregated by network: one node per network and tunnel (labelled with how
 * many hosts are on it, how many untrusted), the trusted hosts (hypervisors, routers, servers: the
 * enforcement points) as nodes of their own, and one edge between two networks per pair that
 * untrusted hosts bridge, labelled with how many do. The host list beside it, filtered by network,
 * reaches every host.
 */
function aggregated(t: Topology): cytoscape.ElementDefinition[] {
  const els: cytoscape.ElementDefinition[] = [];
  const on = new Map<string, { all: number; untrusted: number }>();
  const bridges = new Map<string, number>();
  const zones = new Set<string>();
  const segments = new Set([...t.networks.map((n) => n.name), ...t.tunnels.map((x) => x.name)]);
  const nodeOf = (segment: string) => (segments.has(segment) ? `net:${segment}` : `zone:${segment}`);
  for (const h of t.hosts) {
    for (const nic of h.nics) {
      const c = on.get(nic.segment) ?? { all: 0, untrusted: 0 };
      c.all++;
      if (!h.trusted) c.untrusted++;
      on.set(nic.segment, c);
      if (!segments.has(nic.segment)) zones.add(nic.segment);
    }
    if (h.trusted) {
      els.push({ data: { id: `host:${h.name}`, label: `${h.name}\n${h.kind}`, type: 'host', trusted: 'yes', border: EGRESS_BORDER[h.egress] } });
      for (const nic of h.nics) els.push({ data: { id: `nic:${h.name}:${nic.segment}`, source: `host:${h.name}`, target: nodeOf(nic.segment) } });
    } else {
      const segs = [...new Set(h.nics.map((n) => n.segment))].sort();
      for (let i = 0; i < segs.length; i++)
        for (let j = i + 1; j < segs.length; j++) {
          const key = `${segs[i]}\u0000${segs[j]}`;
          bridges.set(key, (bridges.get(key) ?? 0) + 1);
        }
    }
  }
  const count = (name: string) => {
    const c = on.get(name) ?? { all: 0, untrusted: 0 };
    return `${c.all} host${c.all === 1 ? '' : 's'}, ${c.untrusted} untrusted`;
  };
  for (const n of t.networks) els.push({ data: { id: `net:${n.name}`, label: `${n.name}\n${n.cidr} · ${count(n.name)}`, type: 'network' } });
  for (const tu of t.tunnels) els.push({ data: { id: `net:${tu.name}`, label: `${tu.name}\n${tu.cidr} · ${count(tu.name)}`, type: 'tunnel' } });
  for (const z of zones) els.push({ data: { id: `zone:${z}`, label: `${z}\n${count(z)}`, type: 'zone' } });
  for (const [key, n] of bridges) {
    const [a, b] = key.split('\u0000') as [string, string];
    els.push({ data: { id: `bridge:${key}`, source: nodeOf(a), target: nodeOf(b), label: `${n} host${n === 1 ? '' : 's'} on both`, kind: 'bridge' } });
  }
  return els;
}

function elements(t: Topology): cytoscape.ElementDefinition[] {
  if (t.hosts.length > AGGREGATE_ABOVE) return aggregated(t);
  const els: cytoscape.ElementDefinition[] = [];
  for (const n of t.networks) els.push({ data: { id: `net:${n.name}`, label: `${n.name}\n${n.cidr} · egress ${n.egress}`, type: 'network' } });
  for (const tu of t.tunnels) els.push({ data: { id: `net:${tu.name}`, label: `${tu.name}\n${tu.cidr} · WireGuard`, type: 'tunnel' } });
  const segments = new Set([...t.networks.map((n) => n.name), ...t.tunnels.map((x) => x.name)]);
  const zones = new Set<string>();
  for (const h of t.hosts) {
    els.push({
      data: {
        id: `host:${h.name}`,
        label: `${h.name}\n${h.kind} · ${h.egress}`,
        type: 'host',
        trusted: h.trusted ? 'yes' : 'no',
        border: EGRESS_BORDER[h.egress],
      },
    });
    for (const nic of h.nics) {
      const target = segments.has(nic.segment) ? `net:${nic.segment}` : `zone:${nic.segment}`;
      if (!segments.has(nic.segment) && !zones.has(target)) {
        zones.add(target);
        els.push({ data: { id: target, label: nic.segment, type: 'zone' } });
      }
      els.push({ data: { id: `nic:${h.name}:${nic.segment}`, source: `host:${h.name}`, target, label: nic.address } });
    }
  }
  for (const tu of t.tunnels)
    els.push({ data: { id: `srv:${tu.name}`, source: `net:${tu.name}`, target: `host:${tu.server}`, label: `:${tu.listen}`, kind: 'server' } });
  return els;
}

interface GraphProps {
  topo: Topology;
  selected: string | undefined;
  onSelect: (h: string) => void;
  /** A network, tunnel or zone was tapped: the host list shows its hosts. */
  onNetwork: (segment: string) => void;
  /** performance.now() when the topology's JSON arrived: the first paint records the time since (the benchmark reads it). */
  received: number;
}

function Graph({ topo, selected, onSelect, onNetwork, received }: GraphProps) {
  const box = useRef<HTMLDivElement>(null);
  const cy = useRef<cytoscape.Core | undefined>(undefined);

  useEffect(() => {
    const fg = css('--fg');
    const bg = css('--bg');
    // A big spec is drawn aggregated by network (a few dozen nodes), so the force layout suits both.
    const big = topo.hosts.length > AGGREGATE_ABOVE;
    const t0 = performance.now();
    const c = cytoscape({
      container: box.current,
      elements: elements(topo),
      layout: big
        ? { name: 'cose', animate: false, nodeRepulsion: () => 400000, idealEdgeLength: () => 140, numIter: 300 }
        : { name: 'cose', animate: false, nodeRepulsion: () => 90000, idealEdgeLength: () => 90 },
      wheelSensitivity: 0.3,
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            'text-wrap': 'wrap',
            'font-size': 11,
            color: fg,
            'text-valign': 'bottom',
            'text-margin-y': 4,
            'text-background-color': bg,
            'text-background-opacity': 0.8,
            'min-zoomed-font-size': 7,
          },
        },
        { selector: 'node[type="network"]', style: { shape: 'round-rectangle', width: 70, height: 22, 'background-color': css('--accent') } },
        { selector: 'node[type="tunnel"]', style: { shape: 'diamond', width: 34, height: 34, 'background-color': css('--warn') } },
        { selector: 'node[type="zone"]', style: { shape: 'hexagon', width: 36, height: 36, 'background-color': css('--muted') } },
        {
          selector: 'node[type="host"]',
          style: { shape: 'ellipse', width: 30, height: 30, 'border-width': 3, 'border-color': fg, 'border-style': 'data(border)' as never },
        },
        { selector: 'node[trusted="yes"]', style: { 'background-color': css('--ok') } },
        { selector: 'node[trusted="no"]', style: { 'background-color': css('--bad') } },
        { selector: 'node:selected', style: { 'overlay-color': css('--focus'), 'overlay-opacity': 0.35, 'overlay-padding': 6 } },
        {
          selector: 'edge',
          style: { width: 1.5, 'line-color': css('--border'), label: 'data(label)', 'font-size': 9, color: css('--muted'), 'curve-style': 'bezier' },
        },
        { selector: 'edge[kind="server"]', style: { 'line-style': 'dashed', 'line-color': css('--warn') } },
      ],
    });
    c.on('tap', 'node[type="host"]', (e) => onSelect((e.target as cytoscape.NodeSingular).id().slice('host:'.length)));
    c.on('tap', 'node[type!="host"]', (e) => onNetwork((e.target as cytoscape.NodeSingular).id().replace(/^(net|zone):/, '')));
    box.current?.setAttribute('data-nodes', String(c.nodes().length));
    cy.current = c;
    box.current?.setAttribute('data-init-ms', String(Math.round(performance.now() - t0)));
    // The layout ran (synchronously: no animation); two frames on, Cytoscape has painted it.
    requestAnimationFrame(() => requestAnimationFrame(() => box.current?.setAttribute('data-render-ms', String(Math.round(performance.now() - received)))));
    return () => c.destroy();
  }, [topo]);

  useEffect(() => {
    const c = cy.current;
    if (!c) return;
    c.$(':selected').unselect();
    if (selected) c.$id(`host:${selected}`).select();
  }, [selected, topo]);

  return <div class="cy" ref={box} role="img" aria-label="Topology graph: hosts, networks and tunnels. The host list beside it has the same hosts." />;
}

function HostDetails({ topo, host }: { topo: Topology; host: Host }) {
  const points = topo.points.filter((p) => p.host === host.name || p.enforcedOn === host.name);
  return (
    <section aria-labelledby="host-title" class="host-details">
      <h2 id="host-title">{host.name}</h2>
      <dl class="facts">
        <dt>kind</dt>
        <dd>{host.kind}</dd>
        <dt>trust</dt>
        <dd>{host.trusted ? 'trusted' : 'untrusted (judged as if compromised)'}</dd>
        <dt>egress</dt>
        <dd>{host.egress}</dd>
        <dt>managed</dt>
        <dd>{host.managed ? 'cordon writes its firewall' : 'no'}</dd>
      </dl>
      <h3>Addresses</h3>
      <ul>
        {host.nics.map((n) => (
          <li key={n.segment}>
            <code>{n.address}</code> on {n.segment} <span class="muted">({n.ifname})</span>
          </li>
        ))}
      </ul>
      <h3>Services</h3>
      {host.services.length ? (
        <ul>
          {host.services.map((s) => (
            <li key={s.name}>
              {s.name}: <code>{s.ports}</code>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">none</p>
      )}
      <h3>Rules naming it</h3>
      {host.rules.length ? (
        <ul class="rules">
          {host.rules.map((r, i) => (
            <li key={i}>
              <span class={r.action === 'allow' ? 'added' : 'removed'}>{r.action}</span> ({r.side}) “{r.origin.text}” <OriginRef origin={r.origin} />
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">none: default deny</p>
      )}
      <h3>Enforcement points</h3>
      {points.length ? (
        <ul>
          {points.map((p) => (
            <li key={p.point}>
              <strong>{p.point}</strong> on {p.enforcedOn}: {p.rules} rules, default {p.policy}
              {p.inGuest ? ' (inside the guest: defence in depth only)' : ''}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">none</p>
      )}
    </section>
  );
}

export function TopologyView({ spec }: { spec: SpecRef }) {
  const received = useRef(0);
  const { data: topo, error } = useLoad(async () => {
    const t = await call<Topology>('GET', `${versionPath(spec.id, spec.version)}/topology`);
    received.current = performance.now();
    return t;
  }, [spec.id, spec.version]);
  const [selected, setSelected] = useState<string | undefined>();
  const [network, setNetwork] = useState('');
  if (error) return <ErrorBox error={error} />;
  if (!topo) return <Loading />;
  const host = topo.hosts.find((h) => h.name === selected);
  const big = topo.hosts.length > AGGREGATE_ABOVE;
  const listed = network ? topo.hosts.filter((h) => h.nics.some((n) => n.segment === network)) : topo.hosts;
  const segments = [...new Set(topo.hosts.flatMap((h) => h.nics.map((n) => n.segment)))].sort();
  return (
    <div class="topology">
      <Graph topo={topo} selected={selected} onSelect={setSelected} onNetwork={setNetwork} received={received.current} />
      <div class="side">
        {big ? (
          <p class="muted legend-text" data-aggregated="true">
            {topo.hosts.length} hosts: drawn by network. Boxes are networks (with how many hosts are on each), diamonds WireGuard tunnels, green nodes the
            trusted hosts that enforce; a line between two networks counts the untrusted hosts on both. Click a network, or choose it below, to list its hosts.
          </p>
        ) : (
          <p class="muted legend-text">
            Hosts: green trusted, red untrusted; outline solid isolated, dashed filtered, double vpn-only, dotted open. Boxes are networks, diamonds WireGuard
            tunnels.
          </p>
        )}
        <h2 id="hosts-title">Hosts</h2>
        <label>
          On network{' '}
          <select value={network} onChange={(e) => setNetwork((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {segments.map((sg) => (
              <option key={sg} value={sg}>
                {sg}
              </option>
            ))}
          </select>
        </label>
        <ul class="hostlist" aria-labelledby="hosts-title">
          {listed.slice(0, 500).map((h) => (
            <li key={h.name}>
              <button type="button" aria-pressed={h.name === selected} onClick={() => setSelected(h.name)}>
                {h.name}
              </button>
            </li>
          ))}
        </ul>
        {listed.length > 500 && <p class="muted">…and {listed.length - 500} more: choose a network to list them</p>}
        {host && <HostDetails topo={topo} host={host} />}
      </div>
    </div>
  );
}
