/**
 * `make build`'s last step: writes the fast launcher of `cordon run -- CMD` (src/sandbox/launcher.ts)
 * to dist/fast/run.sh, and the seccomp filter it hands bwrap to dist/fast/seccomp-ARCH.bpf — both
 * from the code the Node path runs, the summary lines from the CLI's own `summary`. Nothing to do
 * on an architecture the filter has no table for (bin/cordon then always runs Node).
 *
 *   node dist/cli/fast-build.js [OUTDIR]     (default: dist/fast beside this file)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fastArgv, launcherScript, MARK, type LauncherText } from '../sandbox/launcher.js';
import { startLine } from '../sandbox/run.js';
import { seccompArch } from '../sandbox/seccomp/bpf.js';
import type { SandboxResult } from '../sandbox/types.js';
import { summary } from './commands/run.js';

/** The CLI's lines with MARKs where run-time values go (sentinel numbers through `summary`, then replaced). */
export function launcherText(): LauncherText {
  const P = 9000001;
  const W = 9000002;
  const H = 9000003;
  const line = (withheld: number, hidden: number): string => {
    const r: SandboxResult = {
      exitCode: 0,
      reason: 'exited',
      message: `exit ${MARK.rc}`,
      denied: [],
      counters: { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0, deniedPackets: 0, deniedBytes: 0 },
      id: MARK.id,
      ms: 0,
      env: { passed: P, withheld },
      hidden,
    };
    return summary(r, undefined).replaceAll(String(P), MARK.passed).replaceAll(String(W), MARK.withheld).replaceAll(String(H), MARK.hidden);
  };
  return {
    // The CLI's `say` (commands/run.ts) puts `cordon run: ` in front of what the library says.
    start: `cordon run: ${startLine(MARK.id, 'isolated', undefined, true)}\n`,
    summary: { w0h1: line(0, 1), w0hn: line(0, H), wnh1: line(W, 1), wnhn: line(W, H) },
  };
}

/** Writes the launcher and its filter into `out`; false (and nothing written) on an architecture without a filter. */
export function writeLauncher(out: string): boolean {
  rmSync(out, { recursive: true, force: true });
  const arch = seccompArch();
  if (arch === undefined) return false;
  mkdirSync(out, { recursive: true });
  const seccompFile = `seccomp-${arch}.bpf`;
  writeFileSync(join(out, seccompFile), fastArgv(arch).seccomp);
  writeFileSync(join(out, 'run.sh'), launcherScript({ arch, seccompFile, report: 'dist/cli/fast-report.js', text: launcherText() }));
  return true;
}

if (process.argv[1] !== undefined && /fast-build\.[jt]s$/.test(process.argv[1])) {
  const out = process.argv[2] ?? fileURLToPath(new URL('../fast', import.meta.url));
  if (!writeLauncher(out)) process.stderr.write(`fast launcher: no seccomp table for ${process.arch}; cordon run always starts Node\n`);
}
