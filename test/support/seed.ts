/**
 * One seed for every property test (fast-check) in a test process.
 *
 * Fixed seeds check the same specs on every run; CI should explore. So:
 * - CORDON_TEST_SEED=N: use N (replaying a failure seen elsewhere);
 * - else CI=true: a fresh time-based seed, printed once so a failure can be replayed;
 * - else a fixed default, so a local run is repeatable.
 * Each property derives its own seed from this one with a salt (so two properties in a file do not
 * walk the same random stream), and a failure names the base seed to replay with.
 */
import fc from 'fast-check';

const DEFAULT_SEED = 20240601;
let cached: number | undefined;

/** Parses CORDON_TEST_SEED strictly: a wrong value is a loud error, not a silent default. */
function seedFromEnv(raw: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new Error(`CORDON_TEST_SEED must be an integer, got '${raw}'`);
  return Number(raw.trim()) | 0;
}

/** The base seed of this test process (see the module comment). `salt` derives a per-property seed. */
export function propertySeed(salt = 0): number {
  if (cached === undefined) {
    const raw = process.env.CORDON_TEST_SEED;
    if (raw !== undefined && raw !== '') cached = seedFromEnv(raw);
    else if (process.env.CI === 'true') {
      cached = (Date.now() ^ (process.pid << 16)) & 0x7fffffff;
      process.stderr.write(`${replayHint(cached)}\n`);
    } else cached = DEFAULT_SEED;
  }
  return (cached + Math.imul(salt, 0x9e3779b1)) | 0;
}

/** The line printed in CI and on every failure. */
export function replayHint(seed = propertySeed()): string {
  return `property seed: ${seed} (replay with CORDON_TEST_SEED=${seed})`;
}

/**
 * fc.assert with the process seed (plus `salt`); a failure's message ends with the replay hint.
 * Any `seed` in `params` is overridden: a property test never pins its own seed.
 */
export function assertProperty<Ts>(property: fc.IProperty<Ts>, params: Omit<fc.Parameters<Ts>, 'seed'> = {}, salt = 0): void {
  try {
    fc.assert(property, { ...params, seed: propertySeed(salt) });
  } catch (e) {
    if (e instanceof Error) e.message += `\n${replayHint()}`;
    throw e;
  }
}

/**
 * Runs a property given as a function of the seed (e.g. `(seed) => fc.assert(p, { seed })`, for
 * async properties or several asserts sharing one seed); on failure prints the replay hint and puts
 * it into the error.
 */
export function withSeed<T>(run: (seed: number) => T): T {
  const seed = propertySeed();
  const fail = (e: unknown): never => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`${replayHint()}\n`);
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
