/**
 * One seed for every property test in a run. CORDON_TEST_SEED replays a run; in CI (CI=true)
 * without it, the seed comes from the clock so each CI run explores new cases; locally it is
 * fixed so a plain `npm test` is reproducible. Whatever the source, a failing property prints the
 * seed with the command that replays it.
 */
const FIXED = 20260101;

let chosen: number | undefined;

export function propertySeed(): number {
  if (chosen !== undefined) return chosen;
  const env = process.env.CORDON_TEST_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n)) throw new Error(`CORDON_TEST_SEED must be an integer, got '${env}'`);
    chosen = n;
  } else if (process.env.CI === 'true') {
    chosen = Date.now() % 2147483647;
  } else {
    chosen = FIXED;
  }
  return chosen;
}

/** The line to print when a property fails: how to run exactly this case again. */
export function replayHint(): string {
  return `property seed ${propertySeed()} — replay with CORDON_TEST_SEED=${propertySeed()}`;
}

/**
 * Runs a property (a function that throws or rejects on failure, e.g. `(seed) => fc.assert(p, { seed })`)
 * and, when it fails, prints the seed and puts it into the error so the run can be replayed.
 */
export function withSeed<T>(run: (seed: number) => T): T {
  const seed = propertySeed();
  const fail = (e: unknown): never => {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(replayHint());
    throw new Error(`${replayHint()}\n${msg}`, { cause: e });
  };
  try {
    const r = run(seed);
    if (r instanceof Promise) return r.catch(fail) as T;
    return r;
  } catch (e) {
    return fail(e);
  }
}
