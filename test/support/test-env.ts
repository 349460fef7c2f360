/**
 * Loaded before every test file (`node --import tsx --import ./test/support/test-env.ts --test`).
 *
 * Any cordon invocation cleans up after dead sandboxes it finds in the sandbox state directory and
 * says so on stderr. Tests that compare a command's stderr byte for byte would then depend on what
 * other runs on the same machine left there, so a test run gets a state directory of its own, set
 * once in the runner's process and inherited by every test file and every cordon it starts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.CORDON_SANDBOX_STATE_DIR ??= mkdtempSync(join(tmpdir(), 'cordon-test-sandbox-state-'));
