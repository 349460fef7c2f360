/**
 * `POST /api/sandbox/run`'s work: the caller's code written to a fresh work directory and run
 * through the library's sandbox (src/sandbox) in isolated mode, with seed 002's SandboxConfig:
 * 512 MiB, half a CPU, 30 s, no network (loopback only; every attempt out is reported), a
 * read-only root (bwrap's; only the work directory is writable). Standard output and error are
 * files in the work directory, each capped by RLIMIT_FSIZE (so neither they nor anything else the
 * code writes can fill the disk) and returned up to OUTPUT_CAP bytes.
 *
 * Runs wait in a bounded queue (config: concurrency and queue length); the tier's runs-per-hour
 * quota is taken before queueing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandbox, SandboxError, type DeniedAttempt } from '../sandbox/run.js';
import type { ServerSettings } from './config.js';

export const LANGUAGES = ['python3', 'node', 'bash'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Bytes of each stream returned in the answer. */
export const OUTPUT_CAP = 64 * 1024;
/** Largest file the code may write, output streams included (RLIMIT_FSIZE, in 1 KiB blocks for ulimit -f). */
const FILE_LIMIT_KIB = 1024;

const SOURCE: Record<Language, string> = { python3: 'main.py', node: 'main.js', bash: 'main.sh' };

/** The interpreter's absolute path (the sandbox's PATH is the caller's; a shim under a home directory may be hidden there). */
function interpreter(lang: Language): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/local/bin']) if (existsSync(join(dir, lang))) return join(dir, lang);
  return undefined;
}

export interface RunResult {
  readonly language: Language;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  readonly exitCode: number;
  /** exited, signal, timeout, memory or pids (the library's). */
  readonly reason: string;
  readonly message: string;
  readonly denied: readonly DeniedAttempt[];
  readonly limits: { readonly memoryBytes: number; readonly cpus: number; readonly timeoutMs: number; readonly network: 'none'; readonly root: 'read-only' };
  readonly ms: number;
}

function readCapped(file: string): { text: string; truncated: boolean } {
  if (!existsSync(file)) return { text: '', truncated: false };
  const size = statSync(file).size;
  const buf = readFileSync(file).subarray(0, OUTPUT_CAP);
  return { text: buf.toString('utf8'), truncated: size > OUTPUT_CAP };
}

export class SandboxUnavailable extends Error {}

export async function runCode(settings: ServerSettings, code: string, language: Language): Promise<RunResult> {
  const bin = interpreter(language);
  if (!bin) throw new SandboxUnavailable(`${language} is not installed on this server`);
  const dir = mkdtempSync(join(tmpdir(), 'cordon-serve-run-'));
  try {
    writeFileSync(join(dir, SOURCE[language]), code, { mode: 0o644 });
    // The wrapper sets the file-size limit, then becomes the interpreter: $1 and $2 are data, never shell text.
    const wrapper = `ulimit -f ${FILE_LIMIT_KIB}; exec "$1" "$2" < /dev/null > .stdout 2> .stderr`;
    const { memoryBytes, cpus, timeoutMs } = settings.sandboxLimits;
    const r = await sandbox({
      command: ['/bin/sh', '-c', wrapper, 'sh', bin, SOURCE[language]],
      mode: 'isolated',
      memoryBytes,
      cpus,
      timeoutMs,
      pids: 64,
      workdir: dir,
      stdio: 'ignore',
      handleSignals: false,
    });
    const out = readCapped(join(dir, '.stdout'));
    const err = readCapped(join(dir, '.stderr'));
    return {
      language,
      stdout: out.text,
      stderr: err.text,
      stdoutTruncated: out.truncated,
      stderrTruncated: err.truncated,
      exitCode: r.exitCode,
      reason: r.reason,
      message: r.message,
      denied: r.denied,
      limits: { memoryBytes, cpus, timeoutMs, network: 'none', root: 'read-only' },
      ms: Math.round(r.ms),
    };
  } catch (e) {
    if (e instanceof SandboxError) throw new SandboxUnavailable(e.message);
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
