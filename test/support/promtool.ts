/**
 * promtool, the Prometheus project's own checker: `check metrics` lints an exposition (names,
 * types, `_total` on counters, help text), `check rules` parses and checks an alerting-rules file
 * (PromQL included). `make setup` unpacks it from Debian's prometheus .deb into .tools/prometheus
 * without installing the package (see the Makefile); a promtool on PATH (the installed package)
 * also does, and PROMTOOL=/path overrides both.
 */
import { fileURLToPath } from 'node:url';
import { findProgram, run } from './golden.js';

export const PROMTOOL: string | undefined =
  process.env.PROMTOOL ?? findProgram(fileURLToPath(new URL('../../.tools/prometheus/usr/bin/promtool', import.meta.url)), 'promtool');

/** The skip (or, in CI, failure) reason when promtool is not there. */
export const NO_PROMTOOL = 'promtool not available (make setup unpacks it into .tools/prometheus; PROMTOOL=/path overrides)';

/** `promtool check metrics` on an exposition: exit 0 and no output means it passes the lint too. */
export function checkMetrics(promtool: string, exposition: string): { code: number; out: string } {
  return run(promtool, ['check', 'metrics'], { input: exposition })!;
}

/** `promtool check rules FILE…`. */
export function checkRules(promtool: string, files: readonly string[]): { code: number; out: string } {
  return run(promtool, ['check', 'rules', ...files])!;
}
