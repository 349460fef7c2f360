/**
 * Entry point of an apply watchdog process (started by watchdog.ts, never by hand):
 * `node watchdog-main.js RUN_DIR`. SIGHUP is ignored (there is no terminal to lose); SIGTERM and
 * SIGINT ask it to decide now (see `watch`).
 */
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
watch(new RunDir(dir), () => interrupted).then(
  (code) => process.exit(code),
  () => process.exit(1),
);
