/**
 * `cordon run --spec FILE --allow HOST[:PORT]` (src/sandbox/spec-hosts.ts): a spec host stands for
 * every address of its nics, one /32 each, with the port. Mutation testing showed that emptying
 * this function's answer failed no fast test.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { loadModelFromText } from '../../src/model/load.js';
import { specHostRules } from '../../src/sandbox/spec-hosts.js';

const r = loadModelFromText(
  `version: 1
networks:
  lan: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, egress: nat }
  llm: { cidr: 10.0.5.0/24, egress: none }
hosts:
  gw: { kind: router, nics: { lan: 10.0.0.1, llm: 10.0.5.1 } }
  ollama: { kind: server, nics: { llm: 10.0.5.9, lan: 10.0.0.9 }, services: { api: tcp/11434 } }
`,
  'spec-hosts.yaml',
);
assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
const model = r.model;

describe('specHostRules', () => {
  it('HOST: one /32 per address, sorted, every port', () => {
    assert.deepEqual(specHostRules(model, 'ollama'), [
      { cidr: { addr: 0x0a000009, len: 32 }, port: undefined, text: 'ollama (10.0.0.9)' },
      { cidr: { addr: 0x0a000509, len: 32 }, port: undefined, text: 'ollama (10.0.5.9)' },
    ]);
  });

  it('HOST:PORT keeps the port; surrounding blanks are ignored', () => {
    assert.deepEqual(
      specHostRules(model, ' ollama:11434 ')?.map((x) => [x.cidr.addr, x.cidr.len, x.port]),
      [
        [0x0a000009, 32, 11434],
        [0x0a000509, 32, 11434],
      ],
    );
  });

  it('not a spec host (or not HOST[:PORT] at all): undefined, so the caller tries an address or a domain', () => {
    assert.equal(specHostRules(model, 'nosuch'), undefined);
    assert.equal(specHostRules(model, 'x/ollama'), undefined);
    assert.equal(specHostRules(model, 'ollama:'), undefined);
    assert.equal(specHostRules(model, 'ollama:123456'), undefined);
  });
});
