/**
 * The one process runner under lab, sandbox and apply: a program without a shell, its output
 * collected, an optional deadline. Nothing here knows what the program is for.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock time of the command, in milliseconds. */
  readonly ms: number;
}

export interface RunOptions {
  /** Written to the program's stdin, which is then closed (default: nothing). */
  readonly input?: string;
  /** SIGKILL after this many milliseconds (default: no deadline). */
  readonly timeoutMs?: number;
}

/** Runs a program without a shell; resolves with its exit code (127 when it cannot start). */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
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
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - t0,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** First lines of a command's error output, for messages. */
export function firstError(r: ExecResult): string {
  const text = (r.stderr || r.stdout).trim();
  return text === '' ? `exit code ${r.code}` : text.split('\n').slice(0, 6).join('\n');
}

/**
 * Runs a program on the caller's own terminal (stdin, stdout, stderr inherited), for commands a
 * person drives; resolves with its exit code (127 when it cannot start, 128 when a signal ended it).
 */
export function runAttached(argv: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.resolve(127);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env: opts.env ?? process.env });
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
