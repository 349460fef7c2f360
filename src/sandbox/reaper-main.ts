/**
 * The reaper's second half (reaper.ts): exec'd by the waiting shell once cordon is gone; removes
 * what runs whose owner died left behind, under $CORDON_SANDBOX_STATE_DIR, and exits. Quiet: nobody
 * reads its output.
 */
import { cleanupStale } from './teardown.js';

if (process.argv[1] !== undefined && /reaper-main\.[jt]s$/.test(process.argv[1])) {
  cleanupStale().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
