/**
 * Running nft and sysctl where a rule set is applied: inside a named network namespace
 * (`ip netns exec NS …`), or, only when asked for in so many words, on the machine itself.
 * Every side effect of `apply` goes through a `Target`, so what it touches is explicit.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock time of the command, in milliseconds. */
  readonly ms: number;
}

/** Runs a program without a shell; resolves with its exit code (127 when it cannot start). */
export function run(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.resolve({ code: 127, stdout: '', stderr: 'empty command', ms: 0 });
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      resolve({ code: 127, stdout: '', stderr: `${cmd}: ${e.message}`, ms: performance.now() - t0 });
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - t0 });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Where a rule set is applied. */
export interface Target {
  /** `netns NAME` or `the host's own network namespace`. */
  readonly label: string;
  /** Directory name under the state root: the namespace name, or `_host`. */
  readonly stateKey: string;
  /** The namespace name; undefined = the machine's own namespace. */
  readonly netns: string | undefined;
  /** Runs a program inside the target's network namespace. */
  exec(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
}

const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function netnsTarget(name: string): Target {
  if (!NETNS_NAME.test(name) || name === '.' || name === '..') throw new Error(`'${name}' is not a network namespace name (letters, digits, '.', '_', '-')`);
  return {
    label: `netns ${name}`,
    stateKey: name,
    netns: name,
    exec: (argv, opts) => run(['ip', 'netns', 'exec', name, ...argv], opts),
  };
}

/** The machine's own network namespace: only behind an explicit `--i-mean-the-host`. */
export function hostTarget(): Target {
  return {
    label: "the host's own network namespace",
    stateKey: '_host',
    netns: undefined,
    exec: (argv, opts) => run(argv, opts),
  };
}

/** Names of the named network namespaces (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list']);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/** First line of a command's error output, for messages. */
export function firstError(r: ExecResult): string {
  const text = (r.stderr || r.stdout).trim();
  return text === '' ? `exit code ${r.code}` : text.split('\n').slice(0, 6).join('\n');
}
