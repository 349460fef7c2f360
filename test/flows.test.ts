/** Flow sets (src/util/flows.ts): port-spec parsing, formatting, JSON and set algebra, table-driven. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  ALL_FLOWS,
  flowContains,
  flowCovers,
  flowEqual,
  flowIntersect,
  flowIsEmpty,
  flowOf,
  flowSetToJson,
  flowSubtract,
  flowUnion,
  formatFlow,
  formatFlowSet,
  isPortSpecError,
  NO_FLOWS,
  parsePortSpec,
  type FlowSet,
} from '../src/util/flows.js';

function parse(text: string): FlowSet {
  const f = parsePortSpec(text);
  assert.ok(!isPortSpecError(f), `${text}: ${isPortSpecError(f) ? f.error : ''}`);
  return f;
}

describe('parsePortSpec', () => {
  const ok: [string, string][] = [
    ['tcp/80', 'tcp/80'],
    ['TCP/80', 'tcp/80'],
    [' udp/53 ', 'udp/53'],
    ['tcp/1', 'tcp/1'],
    ['tcp/65535', 'tcp/65535'],
    ['udp/5000-5010', 'udp/5000-5010'],
    ['tcp/80,443', 'tcp/80,443'],
    ['tcp/443,80', 'tcp/80,443'],
    ['tcp/80, 443', 'tcp/80,443'],
    ['tcp/1-65535', 'tcp/1-65535'],
    ['tcp/80,81,82', 'tcp/80-82'],
    ['tcp/10-20,15-30', 'tcp/10-30'],
    ['tcp/7-7', 'tcp/7'],
    ['tcp', 'tcp/*'],
    ['udp', 'udp/*'],
    ['icmp', 'icmp'],
    ['other', 'other'],
    ['any', 'any'],
    ['all', 'any'],
    ['*', 'any'],
  ];
  for (const [text, want] of ok) it(`${JSON.stringify(text)} → ${want}`, () => assert.equal(formatFlowSet(parse(text)), want));

  const bad: [string, RegExp][] = [
    ['tcp/0', /out of range/],
    ['tcp/65536', /port 65536 .*out of range/],
    ['tcp/70000', /port 70000 .*out of range/],
    ['udp/1-70000', /port 70000 .*out of range/],
    ['udp/5010-5000', /runs backwards: write 5000-5010/],
    ['tcp:80', /is not a port/],
    ['sctp/80', /is not a port/],
    ['tcp/', /is not a port/],
    ['tcp/http', /"http" .* is not a port number/],
    ['tcp/80,', /is not a port number/],
    ['tcp/-5', /is not a port number/],
    ['tcp/1.5', /is not a port number/],
    ['', /is not a port/],
  ];
  for (const [text, re] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      const f = parsePortSpec(text);
      assert.ok(isPortSpecError(f), `${text} was accepted`);
      assert.match(f.error, re);
    });
  }
});

describe('formatFlowSet', () => {
  const table: [FlowSet, string][] = [
    [NO_FLOWS, '-'],
    [ALL_FLOWS, 'any'],
    [{ ...NO_FLOWS, tcp: [[0, 65535]] }, 'tcp/*'],
    [
      {
        ...NO_FLOWS,
        tcp: [
          [22, 22],
          [80, 80],
        ],
        udp: [[53, 53]],
        icmp: true,
      },
      'tcp/22,80 udp/53 icmp',
    ],
    [{ ...ALL_FLOWS, other: false }, 'tcp/* udp/* icmp'],
    [{ ...NO_FLOWS, udp: [[65535, 65535]] }, 'udp/65535'],
    [{ ...NO_FLOWS, tcp: [[1, 65535]] }, 'tcp/1-65535'],
  ];
  for (const [f, want] of table) it(want, () => assert.equal(formatFlowSet(f), want));

  it('formatFlow', () => {
    assert.equal(formatFlow({ proto: 'tcp', port: 443 }), 'tcp/443');
    assert.equal(formatFlow({ proto: 'icmp' }), 'icmp');
  });
});

describe('flowSetToJson', () => {
  it('spells out ranges as pairs and survives a JSON round trip', () => {
    const j = flowSetToJson(parse('tcp/80,443'));
    assert.deepEqual(j, {
      tcp: [
        [80, 80],
        [443, 443],
      ],
      udp: [],
      icmp: false,
      other: false,
    });
    assert.deepEqual(JSON.parse(JSON.stringify(j)), j);
    assert.deepEqual(flowSetToJson(ALL_FLOWS), { tcp: [[0, 65535]], udp: [[0, 65535]], icmp: true, other: true });
  });
});

describe('flow algebra', () => {
  const web = parse('tcp/80,443');
  const dns = flowUnion(parse('udp/53'), parse('tcp/53'));
  const table: [string, () => FlowSet, string][] = [
    ['union', () => flowUnion(web, dns), 'tcp/53,80,443 udp/53'],
    ['union with nothing', () => flowUnion(web, NO_FLOWS), 'tcp/80,443'],
    ['union with any', () => flowUnion(web, ALL_FLOWS), 'any'],
    ['intersect', () => flowIntersect(parse('tcp/1-100'), web), 'tcp/80'],
    ['intersect disjoint', () => flowIntersect(web, dns), '-'],
    ['intersect with any', () => flowIntersect(dns, ALL_FLOWS), 'tcp/53 udp/53'],
    ['subtract', () => flowSubtract(parse('tcp/1-100'), web), 'tcp/1-79,81-100'],
    ['any minus tcp/22', () => flowSubtract(ALL_FLOWS, parse('tcp/22')), 'tcp/0-21,23-65535 udp/* icmp other'],
    ['any minus icmp', () => flowSubtract(ALL_FLOWS, parse('icmp')), 'tcp/* udp/* other'],
    ['any minus any', () => flowSubtract(ALL_FLOWS, ALL_FLOWS), '-'],
    ['complement of tcp/65535 keeps tcp/0', () => flowSubtract(parse('tcp'), parse('tcp/65535')), 'tcp/0-65534'],
  ];
  for (const [name, f, want] of table) it(name, () => assert.equal(formatFlowSet(f()), want));

  it('isEmpty, equal, covers', () => {
    assert.ok(flowIsEmpty(NO_FLOWS));
    assert.ok(!flowIsEmpty({ ...NO_FLOWS, other: true }));
    assert.ok(flowEqual(parse('tcp/80,81'), parse('tcp/80-81')));
    assert.ok(!flowEqual(parse('tcp/80'), parse('udp/80')));
    assert.ok(flowCovers(ALL_FLOWS, web));
    assert.ok(flowCovers(web, NO_FLOWS));
    assert.ok(flowCovers(parse('tcp/1-1000'), web));
    assert.ok(!flowCovers(web, parse('tcp/1-1000')));
    assert.ok(!flowCovers(parse('tcp'), parse('icmp')));
  });

  it('flowOf and flowContains agree, including port 65535 and whole protocols', () => {
    assert.ok(flowContains(web, { proto: 'tcp', port: 443 }));
    assert.ok(!flowContains(web, { proto: 'udp', port: 443 }));
    assert.ok(flowContains(parse('tcp/65535'), { proto: 'tcp', port: 65535 }));
    assert.ok(!flowContains(parse('tcp/65534'), { proto: 'tcp', port: 65535 }));
    // A flow without a port asks about the whole protocol.
    assert.ok(flowContains(parse('tcp'), { proto: 'tcp' }));
    assert.ok(!flowContains(web, { proto: 'tcp' }));
    assert.ok(flowContains(ALL_FLOWS, { proto: 'other' }));
    assert.ok(!flowContains(parse('tcp'), { proto: 'icmp' }));
    assert.equal(formatFlowSet(flowOf({ proto: 'udp', port: 53 })), 'udp/53');
    assert.equal(formatFlowSet(flowOf({ proto: 'tcp' })), 'tcp/*');
    assert.equal(formatFlowSet(flowOf({ proto: 'icmp' })), 'icmp');
    for (const f of [{ proto: 'tcp', port: 1 }, { proto: 'udp', port: 65535 }, { proto: 'icmp' }, { proto: 'other' }] as const) {
      assert.ok(flowContains(flowOf(f), f), formatFlow(f));
    }
  });
});
