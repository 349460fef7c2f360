/**
 * One way to run work that leaves things behind on the machine (namespaces, processes, tables)
 * so that SIGINT, SIGTERM or SIGHUP take them down instead of leaving them. Library code never
 * exits the process: on a signal the work is asked to stop (its AbortSignal), the teardown runs,
 * and the call rejects with `Interrupted`, which the command line turns into exit code 130.
 */

/** The signals a terminal, a supervisor or a closed session send to stop a command. */
export const INTERRUPT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The shell's exit code for "stopped by a signal" as commands report it (128 + SIGINT). */
export const INTERRUPTED_EXIT = 130;

/** The work was stopped by a signal; what it built has been taken down. */
export class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

export interface TeardownOptions {
  /** Takes down what the work built; must be safe to repeat and on half-built state. Its errors are ignored. */
  readonly teardown: () => Promise<unknown>;
  /** Keep what was built when the work succeeds (default: take it down then too). */
  readonly keep?: () => boolean;
  /** Told first when a signal arrives (e.g. to say that teardown is under way). */
  readonly onSignal?: (signal: NodeJS.Signals) => void;
  /**
   * How long the work may take to stop after its AbortSignal fires before the teardown starts
   * anyway (default 2000 ms): tearing down while the work still creates things would leak them.
   */
  readonly graceMs?: number;
}

/**
 * Runs `work` with signal handlers installed (and removed afterwards). On failure the teardown runs
 * and the error is rethrown; on success the teardown runs unless `keep()`; on a signal the work is
 * aborted, the teardown runs and the call rejects with `Interrupted`.
 */
export async function withTeardown<T>(work: (signal: AbortSignal) => Promise<T>, opts: TeardownOptions): Promise<T> {
  const abort = new AbortController();
  let caught: NodeJS.Signals | undefined;
  let onCaught: (sig: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => (onCaught = resolve));
  const handler = (sig: NodeJS.Signals): void => {
    if (caught !== undefined) return;
    caught = sig;
    opts.onSignal?.(sig);
    abort.abort(new Interrupted(sig));
    onCaught(sig);
  };
  const teardown = (): Promise<unknown> => opts.teardown().catch(() => undefined);
  for (const s of INTERRUPT_SIGNALS) process.on(s, handler);
  try {
    const running = work(abort.signal);
    const settled = running.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const first = await Promise.race([settled, signalled.then((sig) => ({ sig }))]);
    if ('sig' in first) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settled, new Promise((r) => (timer = setTimeout(r, opts.graceMs ?? 2000)))]);
      clearTimeout(timer);
      await teardown();
      throw new Interrupted(first.sig);
    }
    if (!first.ok) {
      await teardown();
      throw caught !== undefined ? new Interrupted(caught) : first.error;
    }
    if (!(opts.keep?.() ?? false)) await teardown();
    return first.value;
  } finally {
    for (const s of INTERRUPT_SIGNALS) process.off(s, handler);
  }
}
