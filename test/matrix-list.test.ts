/**
 * `cordon matrix` on big specs prints the list and the JSON straight from the compact matrix, as
 * UTF-8 chunks, and decides that the table is too wide from the names alone; all must agree with
 * the dense-form functions.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { generateSpec } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import { ByteSink, utf8 } from '../src/report/byte-sink.js';
import { compactMatrixToJson, compactMatrixToList, matrixToJson, matrixToList, matrixToTable, tableSurelyWider } from '../src/report/matrix.js';
import { computeFastMatrix } from '../src/verify/fast-matrix.js';

const specs = ['examples/agentfarm-platform.yaml', 'examples/phoenix-gateway.yaml', 'examples/libvirt-bridge.yaml'];

const text = (chunks: Iterable<Uint8Array>): string => Buffer.concat([...chunks]).toString('utf8');

describe('matrix list and JSON from the compact form', () => {
  for (const file of specs) {
    for (const assume of ['configured', 'compromised'] as const) {
      it(`${file} (${assume}): same text as matrixToList and matrixToJson, any chunk size`, () => {
        const r = loadModel(file);
        assert.ok(r.model);
        const fast = computeFastMatrix(compile(r.model), assume);
        const dense = fast.toMatrix();
        for (const color of [false, true]) {
          const want = `${matrixToList(dense, color)}\n`;
          assert.equal(text(compactMatrixToList(fast, color)), want);
          const chunks = [...compactMatrixToList(fast, color, 100)];
          assert.equal(text(chunks), want);
          if (want.length > 400) assert.ok(chunks.length > 1, 'chunked');
          // Every chunk ends on a line.
          for (const c of chunks) assert.equal(c[c.length - 1], 0x0a);
        }
        const json = `${JSON.stringify({ file, ...matrixToJson(dense) }, null, 2)}\n`;
        assert.equal(text(compactMatrixToJson(fast, file)), json);
        const jsonChunks = [...compactMatrixToJson(fast, file, 64)];
        assert.ok(jsonChunks.length > 1, 'chunked');
        assert.equal(text(jsonChunks), json);
        const header = matrixToTable(dense).split('\n')[0]!.length;
        for (const columns of [0, 40, header - 1, header, header + 1, 10_000]) {
          // A lower bound: "surely wider" never says so of a table that fits.
          if (tableSurelyWider(dense, columns)) assert.ok(header > columns, `columns ${columns}, header ${header}`);
        }
        assert.ok(tableSurelyWider(dense, 0));
      });
    }
  }

  it('a generated spec, a file name JSON escapes, and a matrix with nothing allowed', () => {
    const ir = compile(loadModelFromText(generateSpec({ hosts: 60, rules: 150, seed: 4 })).model!);
    for (const assume of ['configured', 'compromised'] as const) {
      const fast = computeFastMatrix(ir, assume);
      assert.ok(fast.allowedCount() > 0);
      const dense = fast.toMatrix();
      // A file name JSON must escape.
      const file = 'dir/"spec" é\\x.yaml';
      assert.equal(text(compactMatrixToJson(fast, file, 1000)), `${JSON.stringify({ file, ...matrixToJson(dense) }, null, 2)}\n`);
      assert.equal(text(compactMatrixToList(fast, true, 1000)), `${matrixToList(dense, true)}\n`);
    }
    const none = compile(
      loadModelFromText(
        [
          'version: 1',
          'networks:',
          '  vmbr1: { cidr: 10.1.0.0/24, egress: none }',
          'hosts:',
          '  vm-a: { kind: vm, id: 101, nics: { vmbr1: 10.1.0.11 }, egress: isolated }',
        ].join('\n'),
      ).model!,
    );
    const fast = computeFastMatrix(none, 'configured');
    assert.equal(fast.allowedCount(), 0);
    const dense = fast.toMatrix();
    assert.equal(text(compactMatrixToList(fast)), `${matrixToList(dense)}\n`);
    assert.equal(text(compactMatrixToJson(fast, 'x.yaml')), `${JSON.stringify({ file: 'x.yaml', ...matrixToJson(dense) }, null, 2)}\n`);
  });
});

describe('ByteSink', () => {
  it('keeps every byte in order across chunks, parts longer than a chunk included', () => {
    const parts = ['a', 'βγ', 'x'.repeat(70), '→', '', 'y'.repeat(300), 'z'];
    for (const size of [1, 3, 64, 1000]) {
      const sink = new ByteSink(size);
      const chunks: Uint8Array[] = [];
      for (let round = 0; round < 5; round++)
        for (const p of parts) {
          sink.put(utf8(p));
          if (sink.ready) {
            assert.ok(sink.length >= size);
            chunks.push(sink.take());
            assert.equal(sink.length, 0);
          }
        }
      chunks.push(sink.take());
      assert.equal(text(chunks), parts.join('').repeat(5));
    }
  });
});
