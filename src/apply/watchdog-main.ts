/**
 * Entry point of an apply watchdog process (started by watchdog.ts, never by hand):
 * `node watchdog-main.js RUN_DIR`. SIGHUP is ignored (there is no terminal to lose); SIGTERM and
 * SIGINT ask it to decide now (see `watch`).
 */
import { appendFileSync } from 'node:fs';
import { watch } from './watchdog.js';
import { RunDir } from './state.js';

const dir = process.argv[2];
if (dir === undefined || !dir.startsWith('/')) {
  process.stderr.write('usage: watchdog-main RUN_DIR (absolute)\n');
  process.exit(2);
}
let interrupted = false;
process.on('SIGHUP', () => undefined);
process.on('SIGTERM', () => (interrupted = true));
process.on('SIGINT', () => (interrupted = true));
const run = new RunDir(dir);
watch(run, () => interrupted).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // A bug here must at least leave a trace: nobody sees this process's stderr.
    try {
      appendFileSync(run.file('watchdog.log'), `${new Date().toISOString()} watchdog failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`, {
        mode: 0o600,
      });
    } catch {
      // the run directory is gone
    }
    process.exit(1);
  },
);
