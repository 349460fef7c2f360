/**
 * apply's rule-by-rule read-back check, without root: `nft -j` documents as the kernel prints
 * them, changed the ways tampering (or an injection) would change them. The shape check alone
 * (rule counts) misses a flipped verdict and a changed match; the content check names each.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compareContent, contentView, elementText, ruleTexts } from '../src/apply/content.js';
import { compareShapes, shapeFromJson } from '../src/apply/shape.js';

const T = { family: 'inet', table: 'cordon_h_forward' };
const base = (): { nftables: Record<string, unknown>[] } => ({
  nftables: [
    { metainfo: { version: '1.0.6' } },
    { table: { family: 'inet', name: 'cordon_h_forward', handle: 7 } },
    { table: { family: 'inet', name: 'other', handle: 8 } },
    { chain: { ...T, name: 'forward', handle: 1, type: 'filter', hook: 'forward', prio: 0, policy: 'drop' } },
    {
      set: {
        ...T,
        name: 'ports',
        handle: 2,
        type: ['ipv4_addr', 'inet_service'],
        flags: ['interval'],
        elem: [{ elem: { val: { concat: ['10.0.0.1', 22] }, counter: { packets: 3, bytes: 180 } } }],
      },
    },
    {
      rule: {
        ...T,
        chain: 'forward',
        handle: 3,
        expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: 'invalid' } }, { counter: { packets: 0, bytes: 0 } }, { drop: null }],
      },
    },
    {
      rule: {
        ...T,
        chain: 'forward',
        handle: 4,
        expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 22 } }, { accept: null }],
      },
    },
    { rule: { family: 'inet', table: 'other', chain: 'input', handle: 5, expr: [{ accept: null }] } },
  ],
});
type Doc = ReturnType<typeof base>;
/** The parts of an nft JSON rule these tests edit. */
type RuleBody = { handle: number; expr: ({ match?: { right: unknown } } & Record<string, unknown>)[] };
const edit = (f: (items: Record<string, unknown>[]) => void): Doc => {
  const d = base();
  f(d.nftables);
  return d;
};
const ruleOf = (d: { nftables: Record<string, unknown>[] }, handle: number): RuleBody =>
  d.nftables.find((o) => (o.rule as { handle?: number } | undefined)?.handle === handle)!.rule as RuleBody;

describe('apply read-back: rule-by-rule content', () => {
  const want = contentView(base());

  it('the same rule set with other handles and counter values is the same', () => {
    const other = edit((items) => {
      for (const o of items) for (const v of Object.values(o)) if (v && typeof v === 'object' && 'handle' in v) (v as { handle: number }).handle += 100;
      ruleOf({ nftables: items }, 103).expr[1] = { counter: { packets: 99, bytes: 9999 } };
    });
    assert.deepEqual(compareContent(want, contentView(other)), []);
  });

  it("a foreign table is not cordon's business", () => {
    const other = edit((items) => items.push({ rule: { family: 'inet', table: 'other', chain: 'input', handle: 9, expr: [{ drop: null }] } }));
    assert.deepEqual(compareContent(want, contentView(other)), []);
  });

  it('a flipped verdict: the shape check misses it, the content check names it', () => {
    const flipped = edit((items) => (ruleOf({ nftables: items }, 3).expr[2] = { accept: null }));
    const a = shapeFromJson(base());
    const b = shapeFromJson(flipped);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(compareShapes(a.value, b.value), [], 'counts alone cannot see a flipped verdict (why content is compared)');
    const d = compareContent(want, contentView(flipped));
    assert.equal(d.length, 2, d.join('\n'));
    assert.match(d[0]!, /chain forward: 1 rule\(s\) loaded that were not rendered, from rule 1: .*"accept"/);
    assert.match(d[1]!, /chain forward: 1 rendered rule\(s\) not loaded, from rule 1: .*"drop"/);
  });

  it("a changed match (another port) is named, with nft's own text when a listing is given", () => {
    const changed = edit((items) => (ruleOf({ nftables: items }, 4).expr[0]!.match!.right = 23));
    const listing =
      'table inet cordon_h_forward { # handle 7\n\tchain forward { # handle 1\n\t\ttype filter hook forward priority filter; policy drop;\n\t\tct state invalid counter drop # handle 3\n\t\ttcp dport 23 accept # handle 4\n\t}\n}\n';
    const d = compareContent(want, contentView(changed, listing));
    assert.deepEqual(d.length, 2, d.join('\n'));
    assert.match(d[0]!, /1 rule\(s\) loaded that were not rendered, from rule 2: 'tcp dport 23 accept'/);
  });

  it('an accept added at the top, a rule gone, rules swapped', () => {
    const added = edit((items) => items.splice(5, 0, { rule: { ...T, chain: 'forward', handle: 9, expr: [{ accept: null }] } }));
    assert.match(compareContent(want, contentView(added)).join('\n'), /1 rule\(s\) loaded that were not rendered, from rule 1: '\[\{"accept":null\}\]'/);
    const gone = edit((items) => items.splice(6, 1));
    assert.match(compareContent(want, contentView(gone)).join('\n'), /1 rendered rule\(s\) not loaded, from rule 2/);
    const swapped = edit((items) => ([items[5], items[6]] = [items[6]!, items[5]!]));
    assert.match(compareContent(want, contentView(swapped)).join('\n'), /the same rules in another order from rule 1/);
  });

  it('a set element added or removed, a chain policy, hook or priority changed', () => {
    const elem = edit((items) =>
      (items[4]!.set as { elem: unknown[] }).elem.push({
        elem: { val: { concat: [{ prefix: { addr: '192.0.2.0', len: 24 } }, { range: [1, 1024] }] }, counter: null },
      }),
    );
    assert.deepEqual(compareContent(want, contentView(elem)), [
      'table inet cordon_h_forward set ports: 1 element(s) loaded that were not rendered: 192.0.2.0/24 . 1-1024',
    ]);
    const none = edit((items) => ((items[4]!.set as { elem: unknown[] }).elem = []));
    assert.match(compareContent(want, contentView(none)).join('\n'), /1 rendered element\(s\) not loaded: 10\.0\.0\.1 \. 22/);
    for (const [k, v] of [
      ['policy', 'accept'],
      ['hook', 'input'],
      ['prio', -10],
    ] as const) {
      const d = compareContent(want, contentView(edit((items) => ((items[3]!.chain as Record<string, unknown>)[k] = v))));
      assert.equal(d.length, 1, d.join('\n'));
      assert.match(d[0]!, new RegExp(`chain forward: declared .*"${k}":${JSON.stringify(v)}`));
    }
  });

  it('tables, chains and other objects that appear or disappear', () => {
    const extra = edit((items) => {
      items.push({ table: { family: 'inet', name: 'cordon_h_extra', handle: 20 } });
      items.push({ chain: { ...T, name: 'side', handle: 21 } });
      items.push({ counter: { ...T, name: 'c1', handle: 22, packets: 0, bytes: 0 } });
    });
    const d = compareContent(want, contentView(extra));
    assert.ok(d.includes('unexpected table inet cordon_h_extra'), d.join('\n'));
    assert.ok(
      d.some((x) => /unexpected chain side/.test(x)),
      d.join('\n'),
    );
    assert.ok(d.includes('table inet cordon_h_forward: unexpected counter c1'), d.join('\n'));
    assert.deepEqual(compareContent(contentView(extra), contentView(base())).filter((x) => /missing/.test(x)).length, 3);
  });

  it('texts: elements and nft -a listings', () => {
    assert.equal(elementText({ concat: ['10.0.0.1', { range: ['10.0.1.0', '10.0.1.255'] }, 'tcp', 80] }), '10.0.0.1 . 10.0.1.0-10.0.1.255 . tcp . 80');
    const t = ruleTexts(
      'table bridge b { # handle 1\n\tchain c { # handle 2\n\t\ttype filter hook prerouting priority -200; policy accept;\n\t\tiifname "x" meta mark set 0x00000001 # handle 3\n\t}\n}\n',
    );
    assert.deepEqual([...t], [['bridge b c 3', 'iifname "x" meta mark set 0x00000001']]);
  });
});
