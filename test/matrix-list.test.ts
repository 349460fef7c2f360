/**
 * `cordon matrix` on big specs prints the list straight from the compact matrix and decides that
 * the table is too wide from the names alone; both must agree with the dense-form functions.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compile } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';
import { compactMatrixToList, matrixToList, matrixToTable, tableSurelyWider } from '../src/report/matrix.js';
import { computeFastMatrix } from '../src/verify/fast-matrix.js';

const specs = ['examples/agentfarm-platform.yaml', 'examples/phoenix-gateway.yaml', 'examples/libvirt-bridge.yaml'];

describe('matrix list from the compact form', () => {
  for (const file of specs) {
    for (const assume of ['configured', 'compromised'] as const) {
      it(`${file} (${assume}): same text as matrixToList, any chunk size`, () => {
        const r = loadModel(file);
        assert.ok(r.model);
        const fast = computeFastMatrix(compile(r.model), assume);
        const dense = fast.toMatrix();
        for (const color of [false, true]) {
          const want = `${matrixToList(dense, color)}\n`;
          assert.equal([...compactMatrixToList(fast, color)].join(''), want);
          const chunks = [...compactMatrixToList(fast, color, 3)];
          assert.equal(chunks.join(''), want);
          if (want.split('\n').length > 5) assert.ok(chunks.length > 1, 'chunked');
        }
        const header = matrixToTable(dense).split('\n')[0]!.length;
        for (const columns of [0, 40, header - 1, header, header + 1, 10_000]) {
          // A lower bound: "surely wider" never says so of a table that fits.
          if (tableSurelyWider(dense, columns)) assert.ok(header > columns, `columns ${columns}, header ${header}`);
        }
        assert.ok(tableSurelyWider(dense, 0));
      });
    }
  }
});
