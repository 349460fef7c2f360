/**
 * When V8 optimises cordon's code: later than it would by default. A command reads, resolves and
 * compiles a spec once, in one pass over thousands of values, then verifies or renders it: most
 * functions are hot for a few milliseconds and never again, and V8's optimising compiler, started
 * after a small budget of work, spent more CPU compiling them (on a second thread, which a
 * shared or single-CPU machine does not have to spare) than their optimised code saved. A larger
 * budget leaves that short-lived code to the quick tiers and still optimises what runs for long
 * (a 10,000-host spec's loops run long past it). See BENCHMARKS.md, "Eleventh round — load and compile".
 */
import { setFlagsFromString } from 'node:v8';

/**
 * V8's interrupt budget (work, in bytes of bytecode run, between two looks at whether a function
 * should be optimised; V8's default is 67,584). Measured on 1k and 10k specs: 1M, 2M and 4M all
 * cut a 1k command's CPU, 4M the most on a loaded machine (check, render, matrix, lint: 0.61-0.77
 * of it); on a quiet one, where the compiles run on the second CPU, 1M gives the shortest wall
 * times (1k matrix 0.85 s against 0.93 s at 4M, lint 1.10 s against 1.20 s) and costs 10k
 * matrix nothing (4M: ~10 % more CPU there).
 */
export const INTERRUPT_BUDGET = 1_000_000;

/** A V8 flag as given on node's command line or in NODE_OPTIONS (`_` and `-` are the same to V8). */
const BUDGET_FLAG = /^--interrupt[-_]budget(?:=|$)/;

/**
 * The V8 flags to set at start-up: none when the user already chose the budget (on node's command
 * line or in NODE_OPTIONS), so that a choice made to measure or debug is kept.
 */
export function tieringFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  return given.some((a) => BUDGET_FLAG.test(a)) ? [] : [`--interrupt-budget=${INTERRUPT_BUDGET}`];
}

/** Sets tieringFlags for this process: at the CLI's entry, before any command runs. */
export function tuneTiering(): void {
  for (const flag of tieringFlags(process.execArgv, process.env.NODE_OPTIONS)) setFlagsFromString(flag);
}
