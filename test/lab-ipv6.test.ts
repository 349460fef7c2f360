/**
 * IPv6 cannot leak (src/render/nftables/ipv6.ts), live: the lab is built from an example, IPv6 is
 * switched on inside it (the lab keeps it off otherwise), with link-local and global (2001:db8::/32,
 * documentation) addresses on every guest nic and the bridge owner's bridge, and
 * `net.bridge.bridge-nf-call-ip6tables=0` in the owner (so only the layer-2 table can stop bridged
 * IPv6). Then every guest pings every other member of its networks, link-local, global and
 * all-nodes multicast, and the owner pings its guests: nothing may answer, and the drops must show
 * in the rule set's counters. Last, the same pings with cordon's IPv6 tables deleted must get through,
 * so the test can tell a wall from a network where IPv6 never worked.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { teardownLab } from '../src/lab/exec.js';
import { freshPrefix, upLab } from '../src/lab/lab.js';
import { loadModel } from '../src/model/load.js';
import { hostNamespace } from '../src/model/names.js';
import { GUEST_KINDS } from '../src/model/types.js';
import { ipv6TableName, l2TableName } from '../src/render/nftables/ipv6.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SKIP = requireOrSkip('lab IPv6 (live)', probeLab());

const built = new Set<string>();
after(async () => {
  for (const p of built) await teardownLab(p).catch(() => undefined);
});

function load(name: string): Ir {
  const r = loadModel(join(ROOT, 'examples', name));
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('; '));
  return compile(r.model);
}

function inNs(ns: string, argv: readonly string[]): { code: number; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function must(ns: string, argv: readonly string[]): string {
  const r = inNs(ns, argv);
  assert.equal(r.code, 0, `ip netns exec ${ns} ${argv.join(' ')}: ${r.out}`);
  return r.out;
}

interface Member {
  readonly host: string;
  readonly ns: string;
  readonly dev: string;
  readonly global: string;
  linkLocal: string;
}

/** Turns IPv6 on for every member of every network a managed host owns; returns the members per network. */
function enableIpv6(ir: Ir, prefix: string): Map<string, Member[]> {
  const nets = new Map<string, Member[]>();
  let n = 0;
  for (const net of [...ir.model.networks.values()].filter((x) => x.owner !== undefined)) {
    n++;
    const members: Member[] = [];
    let k = 1;
    for (const h of ir.model.hosts.values()) {
      const nic = h.nics.find((x) => x.segment === net.name);
      if (!nic) continue;
      const owner = h.name === net.owner;
      if (!owner && !GUEST_KINDS.has(h.kind)) continue;
      const ns = hostNamespace(prefix, h.name);
      const dev = owner ? net.bridge : nic.ifname;
      const global = `2001:db8:${n}::${owner ? 1 : ++k}`;
      must(ns, ['sysctl', '-q', '-w', `net.ipv6.conf.${dev}.accept_dad=0`]);
      must(ns, ['sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=0`]);
      must(ns, ['ip', '-6', 'addr', 'add', `${global}/64`, 'dev', dev, 'nodad']);
      if (owner) inNs(ns, ['sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-ip6tables=0']);
      members.push({ host: h.name, ns, dev, global, linkLocal: '' });
    }
    for (const [i, m] of members.entries()) {
      const addrs = JSON.parse(must(m.ns, ['ip', '-6', '-j', 'addr', 'show', 'dev', m.dev, 'scope', 'link'])) as { addr_info: { local: string }[] }[];
      m.linkLocal = addrs[0]?.addr_info[0]?.local ?? '';
      if (m.linkLocal === '') {
        // A bridge gets no automatic link-local address until a port has carrier: give it one.
        m.linkLocal = `fe80::${n}:${i + 1}`;
        must(m.ns, ['ip', '-6', 'addr', 'add', `${m.linkLocal}/64`, 'dev', m.dev, 'nodad']);
      }
      assert.match(m.linkLocal, /^fe80:/, `${m.host} has a link-local address on ${m.dev}`);
    }
    nets.set(net.name, members);
  }
  return nets;
}

/** Every ping of the test: [from, description, ping arguments]. */
function pings(nets: Map<string, Member[]>): { from: Member; what: string; argv: string[] }[] {
  const out: { from: Member; what: string; argv: string[] }[] = [];
  for (const [net, members] of nets) {
    for (const a of members) {
      out.push({ from: a, what: `${a.host} → all-nodes on ${net}`, argv: ['ping', '-6', '-c', '1', '-W', '1', `ff02::1%${a.dev}`] });
      for (const b of members) {
        if (a === b) continue;
        out.push({ from: a, what: `${a.host} → ${b.host} link-local`, argv: ['ping', '-6', '-c', '1', '-W', '1', `${b.linkLocal}%${a.dev}`] });
        out.push({ from: a, what: `${a.host} → ${b.host} ${b.global}`, argv: ['ping', '-6', '-c', '1', '-W', '1', b.global] });
      }
    }
  }
  return out;
}

/** Whether a ping run again, three tries and a fresh neighbour cache, gets any answer. */
function answersNow(p: { from: Member; argv: string[] }): boolean {
  inNs(p.from.ns, ['ip', '-6', 'neigh', 'flush', 'dev', p.from.dev]);
  const argv = p.argv.map((x, i, a) => (a[i - 1] === '-c' ? '3' : x));
  return /\s[1-9]\d* received/.test(inNs(p.from.ns, argv).out);
}

/** Packets counted by the drop rules of one cordon table in `ns`. */
function dropped(ns: string, family: string, table: string): number {
  const doc = JSON.parse(must(ns, ['nft', '-j', 'list', 'table', family, table])) as { nftables: { rule?: { expr: Record<string, unknown>[] } }[] };
  let n = 0;
  for (const x of doc.nftables) {
    const expr = x.rule?.expr ?? [];
    if (!expr.some((e) => 'drop' in e)) continue;
    for (const e of expr) if ('counter' in e) n += (e.counter as { packets: number }).packets;
  }
  return n;
}

describe('IPv6 cannot leak (live lab)', { skip: SKIP }, () => {
  for (const example of ['proxmox-dual-bridge.yaml', 'libvirt-nat-filtered.yaml']) {
    it(`${example}: no guest and no bridge owner reaches anyone over IPv6; the drops are counted; without cordon's IPv6 tables they would`, async () => {
      const ir = load(example);
      const prefix = await freshPrefix();
      built.add(prefix);
      try {
        await upLab(ir, { prefix, say: () => undefined, ephemeral: true });
        const nets = enableIpv6(ir, prefix);
        const all = pings(nets);
        assert.ok(all.length >= 6, `enough IPv6 pings (${all.length})`);
        const through = all.filter((p) => /(?:^|\s)0% packet loss/.test(inNs(p.from.ns, p.argv).out));
        assert.deepEqual(
          through.map((p) => p.what),
          [],
          'IPv6 got through',
        );
        const owners = [...new Set([...ir.model.networks.values()].flatMap((n) => (n.owner ? [n.owner] : [])))];
        for (const o of owners) {
          const ns = hostNamespace(prefix, o);
          assert.ok(dropped(ns, 'bridge', l2TableName(o)) > 0, `${o}: the v4only table counted no drop`);
          assert.ok(dropped(ns, 'ip6', ipv6TableName(o)) > 0, `${o}: the ipv6 table counted no drop`);
          // The control: without cordon's IPv6 tables the same network carries IPv6.
          must(ns, ['nft', 'delete', 'table', 'bridge', l2TableName(o)]);
          must(ns, ['nft', 'delete', 'table', 'ip6', ipv6TableName(o)]);
        }
        const guestToGuest = all.filter((p) => / link-local$/.test(p.what) && GUEST_KINDS.has(ir.model.hosts.get(p.from.host)!.kind));
        const control = guestToGuest.filter((p) => {
          const to = p.what.split(' → ')[1]!.replace(/ link-local$/, '');
          return GUEST_KINDS.has(ir.model.hosts.get(to)!.kind);
        });
        if (control.length > 0)
          assert.ok(control.some(answersNow), `with the tables deleted, guest-to-guest IPv6 should pass: ${control.map((p) => p.what).join(', ')}`);
        else {
          const toOwner = all.filter((p) => owners.includes(p.what.split(' → ')[1]!.split(' ')[0]!));
          assert.ok(toOwner.some(answersNow), 'with the tables deleted, guest-to-owner IPv6 should pass');
        }
      } finally {
        await teardownLab(prefix);
        built.delete(prefix);
      }
    });
  }
});
