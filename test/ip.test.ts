/** IPv4 parsing, formatting and range arithmetic (src/util/ip.ts), table-driven. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  ALL_ADDRS,
  cidrRange,
  formatCidr,
  formatIPv4,
  formatRange,
  inRange,
  maskOf,
  networkOf,
  parseCidr,
  parseIPv4,
  rangesOverlap,
  rangeToCidrs,
} from '../src/util/ip.js';

const ip = (s: string): number => {
  const n = parseIPv4(s);
  assert.ok(n !== undefined, s);
  return n;
};

describe('parseIPv4', () => {
  const ok: [string, number][] = [
    ['0.0.0.0', 0],
    ['0.0.0.1', 1],
    ['10.0.0.1', 0x0a000001],
    ['192.168.100.20', 0xc0a86414],
    ['255.255.255.255', 0xffffffff],
    ['  8.8.8.8  ', 0x08080808],
  ];
  for (const [text, n] of ok) it(`accepts ${JSON.stringify(text)}`, () => assert.equal(parseIPv4(text), n));

  const bad = [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '1.2.3.256',
    '01.2.3.4',
    '1.2.3.04',
    '1.2.3.-4',
    'a.b.c.d',
    '1.2.3.4/32',
    '::1',
    'fd00::20',
    '1..2.3',
    '1.2.3.4 5',
    '1234.1.1.1',
  ];
  for (const text of bad) it(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseIPv4(text), undefined));

  it('agrees with the dotted-quad regex it replaced, on random texts of digits, dots, slashes and spaces', () => {
    // The reference: four groups of 1-3 digits, each at most 255 and without a leading zero.
    const reference = (text: string): number | undefined => {
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
      if (!m) return undefined;
      let n = 0;
      for (let i = 1; i <= 4; i++) {
        if (Number(m[i]) > 255 || (m[i]!.length > 1 && m[i]!.startsWith('0'))) return undefined;
        n = n * 256 + Number(m[i]);
      }
      return n;
    };
    const alphabet = '0123456789012345.../ a';
    let seed = 12345;
    const next = (k: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % k;
    };
    let accepted = 0;
    for (let t = 0; t < 50_000; t++) {
      let text = '';
      const len = next(19);
      for (let i = 0; i < len; i++) text += alphabet[next(alphabet.length)];
      // Most random texts are no address: also a valid one with one group changed.
      if (t % 2 === 1) text = `${next(300)}.${next(300)}.${next(12) === 0 ? `0${next(10)}` : next(300)}.${next(300)}${next(8) === 0 ? ' ' : ''}`;
      const want = reference(text);
      assert.equal(parseIPv4(text), want, JSON.stringify(text));
      if (want !== undefined) accepted++;
    }
    assert.ok(accepted > 5_000, `only ${accepted} texts were addresses`);
  });

  it('returns unsigned numbers: the top half of the space is not negative', () => {
    assert.ok(ip('200.0.0.1') > 0);
    assert.ok(ip('255.255.255.255') > ip('128.0.0.0'));
  });
});

describe('formatIPv4', () => {
  for (const s of ['0.0.0.0', '1.2.3.4', '10.8.0.255', '128.0.0.0', '255.255.255.255']) {
    it(`round-trips ${s}`, () => assert.equal(formatIPv4(ip(s)), s));
  }
});

describe('parseCidr', () => {
  const ok: [string, boolean, string][] = [
    ['0.0.0.0/0', true, '0.0.0.0/0'],
    ['10.0.0.0/8', true, '10.0.0.0/8'],
    ['192.168.100.0/24', true, '192.168.100.0/24'],
    ['192.168.100.20/32', true, '192.168.100.20/32'],
    ['192.168.100.20', true, '192.168.100.20/32'],
    ['255.255.255.255/32', true, '255.255.255.255/32'],
    ['192.168.100.1/24', false, '192.168.100.0/24'],
    ['8.8.8.8/0', false, '0.0.0.0/0'],
  ];
  for (const [text, strict, want] of ok) {
    it(`${strict ? 'strictly' : 'loosely'} accepts ${text} as ${want}`, () => {
      const c = parseCidr(text, strict);
      assert.ok(c);
      assert.equal(formatCidr(c), want);
    });
  }

  const bad: [string, boolean][] = [
    ['192.168.100.1/24', true],
    ['8.8.8.8/0', true],
    ['10.0.0.0/33', false],
    ['10.0.0.0/-1', false],
    ['10.0.0.0/', false],
    ['10.0.0.0/8/8', false],
    ['10.0.0/8', false],
    ['fd00::/64', false],
    ['10.0.0.0/x', false],
    ['10.0.0.0/024', false],
  ];
  for (const [text, strict] of bad) it(`refuses ${text}${strict ? ' (strict)' : ''}`, () => assert.equal(parseCidr(text, strict), undefined));
});

describe('masks and ranges', () => {
  it('maskOf covers /0 and /32 without sign trouble', () => {
    assert.equal(maskOf(0), 0);
    assert.equal(maskOf(1), 0x80000000);
    assert.equal(maskOf(24), 0xffffff00);
    assert.equal(maskOf(32), 0xffffffff);
  });

  it('networkOf clears host bits', () => {
    assert.equal(formatIPv4(networkOf(ip('192.168.100.77'), 24)), '192.168.100.0');
    assert.equal(formatIPv4(networkOf(ip('255.255.255.255'), 0)), '0.0.0.0');
    assert.equal(formatIPv4(networkOf(ip('255.255.255.255'), 32)), '255.255.255.255');
  });

  const ranges: [string, string, string][] = [
    ['0.0.0.0/0', '0.0.0.0', '255.255.255.255'],
    ['10.0.0.0/8', '10.0.0.0', '10.255.255.255'],
    ['192.168.100.0/24', '192.168.100.0', '192.168.100.255'],
    ['10.8.0.0/31', '10.8.0.0', '10.8.0.1'],
    ['1.2.3.4/32', '1.2.3.4', '1.2.3.4'],
    ['255.255.255.255/32', '255.255.255.255', '255.255.255.255'],
  ];
  for (const [cidr, lo, hi] of ranges) {
    it(`cidrRange(${cidr}) = ${lo}–${hi}`, () => {
      const r = cidrRange(parseCidr(cidr)!);
      assert.equal(formatIPv4(r.lo), lo);
      assert.equal(formatIPv4(r.hi), hi);
    });
  }

  it('0.0.0.0/0 is ALL_ADDRS', () => assert.deepEqual(cidrRange(parseCidr('0.0.0.0/0')!), ALL_ADDRS));

  it('inRange is inclusive at both ends', () => {
    const r = cidrRange(parseCidr('192.168.100.0/24')!);
    assert.ok(inRange(ip('192.168.100.0'), r));
    assert.ok(inRange(ip('192.168.100.255'), r));
    assert.ok(!inRange(ip('192.168.99.255'), r));
    assert.ok(!inRange(ip('192.168.101.0'), r));
  });

  it('rangesOverlap: nested, touching, disjoint', () => {
    const r = (c: string) => cidrRange(parseCidr(c)!);
    assert.ok(rangesOverlap(r('10.0.0.0/16'), r('10.0.5.0/24')));
    assert.ok(rangesOverlap(r('10.0.5.0/24'), r('10.0.0.0/16')));
    assert.ok(rangesOverlap(r('0.0.0.0/0'), r('1.2.3.4/32')));
    assert.ok(!rangesOverlap(r('10.0.0.0/24'), r('10.0.1.0/24')));
    assert.ok(rangesOverlap({ lo: 5, hi: 10 }, { lo: 10, hi: 20 }));
    assert.ok(!rangesOverlap({ lo: 5, hi: 9 }, { lo: 10, hi: 20 }));
  });
});

describe('rangeToCidrs and formatRange', () => {
  const table: [string, string, string[], string][] = [
    ['0.0.0.0', '255.255.255.255', ['0.0.0.0/0'], '0.0.0.0/0'],
    ['10.0.0.0', '10.0.0.255', ['10.0.0.0/24'], '10.0.0.0/24'],
    ['10.0.0.7', '10.0.0.7', ['10.0.0.7/32'], '10.0.0.7'],
    ['10.0.0.1', '10.0.0.6', ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32'], '10.0.0.1-10.0.0.6'],
    [
      '192.168.100.2',
      '192.168.100.255',
      ['192.168.100.2/31', '192.168.100.4/30', '192.168.100.8/29', '192.168.100.16/28', '192.168.100.32/27', '192.168.100.64/26', '192.168.100.128/25'],
      '192.168.100.2-192.168.100.255',
    ],
    ['255.255.255.254', '255.255.255.255', ['255.255.255.254/31'], '255.255.255.254/31'],
    ['128.0.0.0', '255.255.255.255', ['128.0.0.0/1'], '128.0.0.0/1'],
    ['0.0.0.1', '255.255.255.255', [], '0.0.0.1-255.255.255.255'],
  ];
  for (const [lo, hi, cidrs, text] of table) {
    it(`${lo}–${hi}`, () => {
      const r = { lo: ip(lo), hi: ip(hi) };
      const got = rangeToCidrs(r);
      if (cidrs.length) assert.deepEqual(got.map(formatCidr), cidrs);
      // The blocks cover exactly the range, in order, without gaps or overlap.
      let next = r.lo;
      for (const c of got) {
        const cr = cidrRange(c);
        assert.equal(cr.lo, next);
        next = cr.hi + 1;
      }
      assert.equal(next, r.hi + 1);
      assert.equal(formatRange(r), text);
    });
  }
});
