/**
 * The V8 flags the CLI sets at start-up (src/cli/tiering.ts): the interrupt budget unless the user
 * chose one, and a flag V8 knows (an unknown one is only reported on the console, not thrown).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { INTERRUPT_BUDGET, tieringFlags } from '../src/cli/tiering.js';

describe('tieringFlags', () => {
  it('raises the interrupt budget by default', () => {
    assert.deepEqual(tieringFlags([], undefined), [`--interrupt-budget=${INTERRUPT_BUDGET}`]);
    assert.deepEqual(tieringFlags(['--enable-source-maps'], '--max-old-space-size=4096'), [`--interrupt-budget=${INTERRUPT_BUDGET}`]);
    assert.ok(INTERRUPT_BUDGET > 67_584, "more than V8's default, or it changes nothing");
  });

  it("keeps the user's own budget, from node's command line or NODE_OPTIONS, in either spelling", () => {
    assert.deepEqual(tieringFlags(['--interrupt-budget=1000'], undefined), []);
    assert.deepEqual(tieringFlags([], '--max-old-space-size=4096 --interrupt_budget=1000'), []);
    assert.deepEqual(tieringFlags(['--interrupt-budget', '1000'], undefined), []);
    // A different flag that starts the same is not the budget.
    assert.deepEqual(tieringFlags(['--interrupt-budget-for-feedback-allocation=10'], undefined), [`--interrupt-budget=${INTERRUPT_BUDGET}`]);
  });

  it('sets flags V8 knows', () => {
    // V8 reports an unknown flag on the console and goes on: a misspelt one would do nothing.
    const script = `require('node:v8').setFlagsFromString(${JSON.stringify(tieringFlags([], undefined)[0])}); console.log('set');`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), 'set');
  });
});
