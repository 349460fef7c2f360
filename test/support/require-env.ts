/**
 * What a test suite does when its environment is missing (no root, no namespaces, no bwrap, a
 * validator not installed): locally it skips with the reason, so a laptop run stays useful; in CI
 * (CI=true) it fails, because CI runs `make setup` as root on Debian 12 and every live suite and
 * every validator `make setup` installs must actually run there. Without this, a refused
 * namespace or a missing tool turns ~100 live tests into silent skips and `make test` stays green.
 */
import { it } from 'node:test';

/** True when running in CI, where nothing that `make setup` provides may be skipped. */
export function inCi(): boolean {
  return process.env.CI === 'true';
}

/** The message a CI failure carries: names the suite, the reason, and why it is not a skip. */
export function ciMessage(suite: string, reason: string): string {
  return `${suite}: ${reason}. CI=true: in CI everything make setup provides (root, namespaces, bwrap, the validators) must be there, so this is a failure, not a skip`;
}

/**
 * For a whole suite, at module level: `describe(name, { skip: requireOrSkip(name, probe()) }, …)`.
 * - probe passed (reason undefined): returns undefined, the suite runs;
 * - reason and not CI: notes the reason on stderr and returns it (the suite is skipped);
 * - reason and CI: registers one failing test naming the reason, and returns it so the suite's
 *   own tests do not run into the missing environment one by one.
 */
export function requireOrSkip(suite: string, reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (inCi()) {
    it(`${suite}: environment`, () => {
      throw new Error(ciMessage(suite, reason));
    });
  } else {
    process.stderr.write(`${suite}: skipped: ${reason}\n`);
  }
  return reason;
}

/**
 * Inside one test: `if (!TOOL) return skipOrFail(t, 'TOOL not installed (make setup installs it)');`
 * skips the test locally and fails it in CI.
 */
export function skipOrFail(t: { skip: (message: string) => void; name?: string }, reason: string): void {
  if (inCi()) throw new Error(ciMessage(t.name ?? 'this test', reason));
  t.skip(reason);
}

/**
 * Inside one test that still checks something without the tool: locally a diagnostic note, in CI
 * a failure (a validator `make setup` installs is never left out there).
 */
export function noteOrFail(t: { diagnostic: (message: string) => void; name?: string }, reason: string): void {
  if (inCi()) throw new Error(ciMessage(t.name ?? 'this test', reason));
  t.diagnostic(reason);
}
