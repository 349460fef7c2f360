import assert from 'node:assert/strict';
import { test } from 'node:test';

import { routeEqual, routeKey, type RouteChoice } from '../src/ir/paths.js';
import type { Nic } from '../src/model/types.js';

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
