import assert from 'node:assert/strict';
import { test } from 'node:test';

import { routeEqual, routeKey, Topology, type RouteChoice } from '../src/ir/paths.js';
import { loadModelFromText } from '../src/model/load.js';
import type { Nic } from '../src/model/types.js';
import { parseIPv4 } from '../src/util/ip.js';

// The loop key stood for JSON.stringify(route): two routes must get one key exactly when their
// JSON is equal, or a loop is missed (keys too fine) or a path is cut short (keys too coarse).
const nics: Nic[] = [
  { segment: 'lan', address: 10, ifname: 'eth0', port: undefined },
  { segment: 'lan', address: 10, ifname: 'eth0', port: 'tap1' },
  { segment: 'lan', address: 10, ifname: 'eth0', port: '' },
  { segment: 'lan', address: 11, ifname: 'eth0', port: undefined },
  { segment: 'lan', address: 10, ifname: 'eth1', port: undefined },
  { segment: 'dmz', address: 10, ifname: 'eth0', port: undefined },
  { segment: 'wg0', address: 10, ifname: 'wg0', port: undefined },
];

function routes(): RouteChoice[] {
  const out: RouteChoice[] = [{ kind: 'none' }, { kind: 'uplink', ifname: 'eth0' }, { kind: 'uplink', ifname: 'eth1' }];
  for (const nic of nics) {
    for (const segment of ['lan', 'dmz']) {
      out.push({ kind: 'direct', segment, nic: { ...nic } });
      for (const next of [1, 2]) out.push({ kind: 'via', segment, nic: { ...nic }, next });
    }
    out.push({ kind: 'tunnel', tunnel: 'wg0', nic: { ...nic } }, { kind: 'tunnel', tunnel: 'eth0', nic: { ...nic } });
  }
  return out;
}

test('routeKey and routeEqual: equal exactly for routes with equal JSON', () => {
  const a = routes();
  const b = routes();
  let equal = 0;
  for (const x of a)
    for (const y of b) {
      const same = JSON.stringify(x) === JSON.stringify(y);
      if (same) equal++;
      assert.equal(routeKey(x) === routeKey(y), same, `routeKey: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
      assert.equal(routeEqual(x, y), same, `routeEqual: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
    }
  assert.equal(equal, a.length);
});

// Two routers that route a prefix at each other: the loop check must stop the path at the
// second visit of r1 by the same route, and only there.
const LOOP = `
version: 1
networks:
  core: { cidr: 10.0.0.0/24, egress: none }
  edge: { cidr: 10.1.0.0/24, egress: none }
hosts:
  r1: { kind: router, nics: { core: 10.0.0.1, edge: 10.1.0.1 }, routes: [{ to: 10.9.0.0/16, via: 10.0.0.2 }] }
  r2: { kind: router, nics: { core: 10.0.0.2 }, routes: [{ to: 10.9.0.0/16, via: 10.0.0.1 }] }
  c: { kind: vm, nics: { edge: 10.1.0.5 }, routes: [{ to: 10.9.0.0/16, via: 10.1.0.1 }] }
`;

test('Topology.paths: a routing loop ends at the host it returns to', () => {
  const r = loadModelFromText(LOOP);
  assert.ok(r.model, JSON.stringify(r.diagnostics));
  const paths = new Topology(r.model).paths({ kind: 'host', host: 'c' }, parseIPv4('10.9.0.7')!, { compromised: false, underlay: false });
  assert.equal(paths.length, 1);
  assert.deepEqual(paths[0]!.end, { kind: 'dropped', reason: 'routing loop at r1' });
  assert.deepEqual(
    paths[0]!.hops.map((h) => `${h.point}:${h.iif ?? ''}>${h.oif ?? ''}`),
    ['c:output:>eth0', 'r1:forward:eth1>eth0', 'r2:forward:eth0>eth0'],
  );
});
