/**
 * Loaded before every test file (`node --import tsx --import ./test/support/test-env.ts --test`).
 *
 * Any cordon invocation cleans up after dead sandboxes it finds in the sandbox state directory and
 * says so on stderr. Tests that compare a command's stderr byte for byte would then depend on what
 * other runs on the same machine left there, so a test run gets a state directory of its own, set
 * once in the runner's process and inherited by every test file and every cordon it starts.
 */
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (process.env.CORDON_SANDBOX_STATE_DIR === undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-test-sandbox-state-'));
  process.env.CORDON_SANDBOX_STATE_DIR = dir;
  // Removed by the process that made it (the runner, or a test file run alone), which ends after
  // every test file it started: each run left one behind. Only when empty: what a sandbox left
  // there may be mounted (a recursive removal would reach through it), and is the reaper's.
  process.on('exit', () => {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty: left as evidence, as before.
    }
  });
}
