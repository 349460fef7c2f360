/**
 * The kubernetes target's fast YAML writer (src/render/kubernetes/yaml-fast.ts) against the
 * library path it replaces (src/render/yaml.ts): same lines for the shapes the policies use, for
 * scalars whose quoting YAML 1.1 decides (numbers as strings, yes/no/on/off, indicators), for
 * hostile strings as keys and values, and for the shapes it hands back to the library.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { fastYamlLines } from '../src/render/kubernetes/yaml-fast.js';
import { yamlLines } from '../src/render/yaml.js';
import { HOSTILE } from './support/hostile-corpus.js';

const TRICKY: readonly (string | number | boolean)[] = [
  ...['yes', 'no', 'on', 'off', 'y', 'n', 'Y', 'NO', 'true', 'False', 'null', '~', 'NULL'],
  ...['443', '0', '-1', '0x1F', '0o17', '017', '1e3', '1_000', '1.5', '.5', '.inf', '-.Inf', '.nan', '12:30', '2001-01-01'],
  ...['-', '- x', '-x', '?', '? x', ':', ':x', 'x:', 'a: b', 'a:b', '#x', 'x #y', 'x#y', '*alias', '&anchor', '!tag', '%dir', '@at', '`bt'],
  ...['{', '}', '[', ']', ',', '|', '>', "'q'", '"dq"', ' lead', 'trail ', '', 'ünïcode', 'tab\there', '10.0.0.0/8', 'cordon.dev/host', 'TCP'],
  ...[0, 1, 443, 65535, -1, 1.5, true, false],
  ...HOSTILE.map((p) => p.text),
];

function same(value: unknown): void {
  assert.deepEqual(fastYamlLines(value), yamlLines(value), JSON.stringify(value));
}

describe('kubernetes fast YAML: byte-identical to the yaml library', () => {
  it('a NetworkPolicy and a CiliumNetworkPolicy body (maps, sequences of maps and scalars, empty {} and [])', () => {
    same({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'cordon-a', labels: { 'app.kubernetes.io/managed-by': 'cordon' } },
      spec: {
        podSelector: { matchLabels: { 'cordon.dev/host': 'a' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {},
          { from: [{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'cordon.dev/host', operator: 'NotIn', values: ['b', 'c'] }] } }] },
          { from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ protocol: 'TCP', port: 443, endPort: 445 }] },
        ],
        egress: [{ to: [], ports: [{ protocol: 'UDP' }] }],
      },
    });
    same({
      spec: {
        enableDefaultDeny: { ingress: true, egress: false },
        egressDeny: [{ toEntities: ['all'] }, { toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }] }], icmps: [{ fields: [{ family: 'IPv4', type: 8 }] }] }],
      },
    });
  });

  it('every tricky scalar as a map value, a sequence item and a key', () => {
    for (const v of TRICKY) {
      same({ a: v });
      same({ a: [v, v] });
      same({ a: [{ b: v, c: [v] }] });
      same({ [String(v)]: 'x', nested: { [String(v)]: { [String(v)]: v } } });
      same({ list: [{ [String(v)]: v }] });
    }
  });

  it('a very long key (the library writes an explicit "? " key) and multi-line strings fall back and still match', () => {
    same({ ['k'.repeat(1500)]: 'v' });
    same({ a: 'line1\nline2', b: [{ c: 'x\ny' }] });
  });

  it('shapes it does not write itself (null, sequence in a sequence, empty or non-map document) match through the library', () => {
    same({ a: null });
    same({ a: [['x', 'y'], 'z'] });
    same({});
    same(['a', { b: 1 }]);
    same('scalar');
  });

  it('the fallback is for the whole document, not a line: a fast-path document with one odd value is still one document', () => {
    const v = { a: { b: 'x' }, c: [{ d: null }] };
    assert.deepEqual(fastYamlLines(v), ['a:', '  b: x', 'c:', '  - d: null']);
  });
});
