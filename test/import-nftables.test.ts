/**
 * `cordon import --from nftables`: the JSON of `nft -j list ruleset` → a spec.
 *
 * The fixture test/import-golden/nftables/ruleset.json is what `nft -j list ruleset` printed for
 * the hand-written ruleset.nft next to it (loaded into a scratch namespace with nft 1.0.6). The
 * expectations below are written from nftables' documented behaviour, not from the importer's
 * output: base chains on one hook run in priority order (the ip table's priority -10 chain before
 * the inet table's priority 0 one, although the document lists it later), a drop there is final;
 * `return` goes back to the calling chain; a named interval set is the union of its elements; a
 * concatenated lookup is one alternative per element. The golden file pins the whole text.
 * Plus: malformed JSON and unknown expressions give located diagnostics, `--strict` makes the
 * warnings errors, and hostile names cannot add lines to the written YAML.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { runImport } from '../src/cli/commands/import-common.js';
import type { ImportResult, SourceTree } from '../src/import/common/contract.js';
import { findImporter } from '../src/import/common/registry.js';

const DIR = 'test/import-golden/nftables';
const FIXTURE = `${DIR}/ruleset.json`;

interface Rule {
  action: string;
  from?: string | string[];
  to?: string | string[];
  ports?: string | string[];
  iif?: string;
  oif?: string;
  state?: string;
  comment: string;
}
interface Fw {
  policy: string;
  rules: Rule[];
}

function memTree(files: Record<string, string>): SourceTree {
  return { read: (p) => files[p], list: () => undefined };
}

function importDoc(doc: unknown, host = 'fw'): ImportResult {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
  return findImporter('nftables')!.import({ paths: ['rs.json'], tree: memTree({ 'rs.json': text }), topology: undefined, host });
}

function firewalls(text: string): Record<string, Fw> {
  return (parse(text) as { firewalls: Record<string, Fw> }).firewalls;
}

/** A minimal document: one inet table with an input base chain holding `exprs` rules. */
function docWith(rules: unknown[][], extra: unknown[] = [], chainName = 'input'): unknown {
  return {
    nftables: [
      { metainfo: { json_schema_version: 1 } },
      { table: { family: 'inet', name: 't', handle: 1 } },
      ...extra,
      { chain: { family: 'inet', table: 't', name: chainName, handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
      ...rules.map((expr, i) => ({ rule: { family: 'inet', table: 't', chain: chainName, handle: 10 + i, expr } })),
    ],
  };
}

describe('import --from nftables', () => {
  it('the hand-written ruleset: priority order, return, sets, concatenations (golden; UPDATE_GOLDEN=1 rewrites it)', () => {
    const { result } = runImport([FIXTURE], { from: 'nftables', host: 'fw' });
    assert.ok(!result.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(result.diagnostics));
    const fw = firewalls(result.text);
    const input = fw['fw:input']!;
    // The priority -10 chain runs first: its drop of 192.0.2.66 comes before everything of the inet table.
    assert.deepEqual([input.rules[0]!.action, input.rules[0]!.from], ['drop', '192.0.2.66']);
    assert.match(input.rules[0]!.comment, /\$\.nftables\[26\]\.rule/);
    // `ip saddr 192.0.2.10 return` in ssh_guard: that address skips the admins accept and the drop,
    // and falls to the rules after the jump; the drop covers every other address except the admins.
    const sshDrop = input.rules.find((r) => r.action === 'drop' && r.ports === 'tcp/22')!;
    assert.ok(Array.isArray(sshDrop.from) && !sshDrop.from.includes('192.0.2.10'));
    assert.ok(sshDrop.from.includes('192.0.2.11') && sshDrop.from.includes('192.0.2.8/31'));
    const admins = input.rules.find((r) => r.action === 'accept' && r.ports === 'tcp/22')!;
    assert.deepEqual(admins.from, ['198.51.100.0/24', '203.0.113.5', '203.0.113.6/31', '203.0.113.8/31']);
    // The concatenated set: one rule per element, each address with its own port.
    const pairs = input.rules.filter((r) => r.comment.includes('$.nftables[17].rule')).map((r) => `${String(r.from)} ${String(r.ports)}`);
    assert.deepEqual([...new Set(pairs)], ['10.0.0.5 tcp/5432', '10.0.0.6 tcp/6379']);
    // The nft comment is kept; the rule with an inexpressible source port (a drop) is left out.
    assert.ok(input.rules.some((r) => r.ports === 'tcp/80,443' && r.comment.endsWith(' web')));
    assert.ok(!input.rules.some((r) => r.comment.includes('$.nftables[20].rule')));
    assert.equal(input.policy, 'drop');
    // Forward: one rule per input interface of the anonymous set; `!=` is the complement.
    const forward = fw['fw:forward']!;
    assert.deepEqual(
      forward.rules.map((r) => `${r.action} ${r.iif ?? ''}>${r.oif ?? ''}`),
      ['accept eth1>eth0', 'accept eth2>eth0', 'reject >'],
    );
    assert.ok(Array.isArray(forward.rules[2]!.to) && !forward.rules[2]!.to.some((c) => c.startsWith('10.')));
    assert.deepEqual(fw['fw:output'], { policy: 'accept', rules: [] });
    // What was not imported exactly, each at its JSON path.
    const located = result.diagnostics.map((d) => `${d.severity} ${d.code} ${d.path}`);
    assert.ok(located.includes('warning CORDON044 $.nftables[20].rule'), located.join('\n'));
    assert.ok(located.includes('warning CORDON044 $.nftables[27].rule'), located.join('\n'));
    assert.ok(located.includes('warning CORDON046 $.nftables[28].table'), located.join('\n'));
    const golden = `${DIR}/ruleset.yaml`;
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(DIR, { recursive: true });
      writeFileSync(golden, result.text);
    }
    assert.equal(result.text, readFileSync(golden, 'utf8'));
  });

  it('two base chains on one hook: an accept in the first is not final, a drop in either is', () => {
    const dport = (n: number): unknown => ({ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: n } });
    const doc = {
      nftables: [
        { table: { family: 'inet', name: 'late', handle: 1 } },
        { chain: { family: 'inet', table: 'late', name: 'in', handle: 2, type: 'filter', hook: 'input', prio: 10, policy: 'accept' } },
        { rule: { family: 'inet', table: 'late', chain: 'in', handle: 3, expr: [dport(22), { drop: null }] } },
        { table: { family: 'ip', name: 'early', handle: 4 } },
        { chain: { family: 'ip', table: 'early', name: 'in', handle: 5, type: 'filter', hook: 'input', prio: -5, policy: 'accept' } },
        { rule: { family: 'ip', table: 'early', chain: 'in', handle: 6, expr: [dport(22), { accept: null }] } },
        { rule: { family: 'ip', table: 'early', chain: 'in', handle: 7, expr: [dport(23), { drop: null }] } },
      ],
    };
    const input = firewalls(importDoc(doc).text)['fw:input']!;
    // tcp/22: accepted by the early chain, then dropped by the late one; tcp/23 dropped early; the rest accepted by both policies.
    const decide = (port: number): string => input.rules.find((r) => r.ports === undefined || r.ports === `tcp/${port}`)?.action ?? input.policy;
    assert.equal(decide(22), 'drop');
    assert.equal(decide(23), 'drop');
    assert.equal(decide(80), 'accept');
    assert.equal(input.policy, 'accept');
  });

  it('malformed JSON: an error at its line and column, no spec', () => {
    const r = importDoc('{"nftables": [\n  {"table": {"family": "inet", "name": "t"}},\n  oops\n]}');
    const e = r.diagnostics.find((d) => d.severity === 'error');
    assert.ok(e, JSON.stringify(r.diagnostics));
    assert.equal(e.code, 'CORDON042');
    assert.equal(e.file, 'rs.json');
    assert.equal(e.line, 3);
    assert.match(e.message, /not JSON/);
  });

  it('JSON that is not an nft document, and a rule of an undeclared chain: located errors', () => {
    const a = importDoc({ rules: [] });
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.path}`),
      ['CORDON042 $'],
    );
    const b = importDoc(docWith([[{ jump: { target: 'nowhere' } }]]));
    assert.deepEqual(
      b.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.path}`),
      ['CORDON045 $.nftables[3].rule'],
    );
  });

  it('an unknown expression: a located warning, the accept widened; --strict makes it an error', () => {
    const doc = docWith([
      [{ match: { op: '==', left: { meta: { key: 'skuid' } }, right: 0 } }, { accept: null }],
      [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 22 } }, { accept: null }],
    ]);
    const r = importDoc(doc);
    const w = r.diagnostics.filter((d) => d.severity !== 'info');
    assert.deepEqual(
      w.map((d) => `${d.severity} ${d.code} ${d.path}`),
      ['warning CORDON044 $.nftables[3].rule'],
    );
    assert.match(w[0]!.message, /meta skuid/);
    // Widened: the rule accepts everything, so the tcp/22 rule after it is not needed to decide anything.
    assert.equal(firewalls(r.text)['fw:input']!.rules[0]!.ports, undefined);
    // `icmp type` widened stays an ICMP rule: the field belongs to the ICMP header.
    const icmp = importDoc(
      docWith([[{ match: { op: '==', left: { payload: { protocol: 'icmp', field: 'type' } }, right: 'echo-request' } }, { accept: null }]]),
    );
    assert.equal(firewalls(icmp.text)['fw:input']!.rules[0]!.ports, 'icmp');
    assert.ok(icmp.diagnostics.some((d) => d.code === 'CORDON044' && d.message.includes('icmp type')));
    const dir = mkdtempSync(join(tmpdir(), 'cordon-nft-import-'));
    const file = join(dir, 'unknown-expr.json');
    writeFileSync(file, JSON.stringify(doc));
    try {
      const strict = runImport([file], { from: 'nftables', host: 'fw', strict: true }).result;
      assert.deepEqual(
        strict.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.path}`),
        ['CORDON044 $.nftables[3].rule'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an anonymous verdict map is one rule per element; an unknown statement is a located warning', () => {
    const r = importDoc(
      docWith([
        [
          {
            vmap: {
              key: { payload: { protocol: 'tcp', field: 'dport' } },
              data: {
                set: [
                  [22, { accept: null }],
                  [23, { drop: null }],
                ],
              },
            },
          },
        ],
        [{ queue: { num: 1 } }, { accept: null }],
      ]),
    );
    const rules = firewalls(r.text)['fw:input']!.rules;
    assert.deepEqual(
      rules.map((x) => `${x.action} ${String(x.ports)}`),
      ['accept tcp/22', 'drop tcp/23', 'accept undefined'],
    );
    const ws = r.diagnostics.filter((d) => d.severity === 'warning').map((d) => `${d.code} ${d.path}`);
    assert.deepEqual(ws, ['CORDON044 $.nftables[4].rule']);
  });

  it('hostile names (chains, sets, comments with newlines) cannot add lines to the YAML', () => {
    const evil = 'x\n  evil: true\n# "}\u2028- {"action":"accept"}';
    const doc = {
      nftables: [
        { table: { family: 'inet', name: evil, handle: 1 } },
        { set: { family: 'inet', table: evil, name: evil, type: 'ipv4_addr', handle: 3, elem: ['192.0.2.1'] } },
        { chain: { family: 'inet', table: evil, name: evil, handle: 4 } },
        { chain: { family: 'inet', table: evil, name: 'input', handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
        { rule: { family: 'inet', table: evil, chain: 'input', handle: 5, comment: evil, expr: [{ jump: { target: evil } }] } },
        {
          rule: {
            family: 'inet',
            table: evil,
            chain: evil,
            handle: 6,
            comment: evil,
            expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: `@${evil}` } }, { accept: null }],
          },
        },
      ],
    };
    const r = importDoc(doc);
    assert.ok(!r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(r.diagnostics));
    assert.ok(!r.text.split('\n').some((l) => /^\s*evil:/.test(l) || /^\s*- \{"action":"accept"\}$/.test(l)), r.text);
    const parsed = parse(r.text) as Record<string, unknown> & { firewalls: Record<string, Fw> };
    assert.equal(parsed.evil, undefined);
    const rules = parsed.firewalls['fw:input']!.rules;
    assert.equal(rules.length, 1);
    assert.equal(rules[0]!.from, '192.0.2.1');
    // The nft comment survives as data inside the JSON-quoted rule, newlines and all.
    assert.ok(rules[0]!.comment.endsWith(evil));
  });
});
