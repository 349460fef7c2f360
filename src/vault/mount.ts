/**
 * A session's files, decrypted into RAM for a sandbox. `vaultMount` mounts a private tmpfs
 * (size-limited, mode 0700, nosuid, nodev, noexec) when running as root and remounts it read-only
 * after writing; otherwise it falls back to a private directory under /dev/shm, which is RAM-backed
 * but shared with the rest of the machine (a warning says so). Clear text is never written to a
 * persistent filesystem: if neither is available, it refuses.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll, VaultError, type VaultOptions } from './store.js';

export interface VaultMount {
  /** The directory holding the decrypted files (0400 each). */
  dir: string;
  /** True for a private tmpfs mount, false for the /dev/shm fallback. */
  privateMount: boolean;
  /** Read-only once written (a tmpfs remounted ro). */
  readOnly: boolean;
  warnings: string[];
  /** Unmounts or removes the directory; safe to call twice. */
  cleanup(): Promise<void>;
}

/** A file name safe to create in one directory; duplicates get a numeric suffix. */
function safeNames(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((n) => {
    let base = n.replace(/[/\\\0]/g, '_').replace(/^\.+$/, '_') || '_';
    if (base.length > 200) base = base.slice(0, 200);
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}.${i}`;
    used.add(name);
    return name;
  });
}

/** The filesystem type of the mount holding `path`, from /proc/mounts (longest matching mount point). */
export function fsTypeOf(path: string): string | undefined {
  let best: { point: string; type: string } | undefined;
  let text: string;
  try {
    text = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [, point, type] = line.split(' ');
    if (!point || !type) continue;
    const p = point.replace(/\\040/g, ' ');
    if ((path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`)) && (!best || p.length > best.point.length)) best = { point: p, type };
  }
  return best?.type;
}

/**
 * Decrypts every file of `session` into `dir` (which must already be on a RAM filesystem: tmpfs or
 * ramfs), each 0400. Returns the names written, in order.
 */
export function materialize(session: string, dir: string, opts: VaultOptions = {}): string[] {
  const t = fsTypeOf(dir);
  if (t !== 'tmpfs' && t !== 'ramfs')
    throw new VaultError('invalid', `refusing to write decrypted files to ${dir}: it is on ${t ?? 'an unknown filesystem'}, not tmpfs`);
  const files = readAll(session, opts);
  const names = safeNames(files.map((f) => f.name));
  files.forEach((f, i) => {
    const p = join(dir, names[i]!);
    writeFileSync(p, f.data, { mode: 0o400, flag: 'wx' });
    chmodSync(p, 0o400);
    f.data.fill(0);
  });
  return names;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Mounts `session`'s decrypted content for a sandbox; see the module comment. */
/**
 * `dirPrefix`: put after `cordon-vault-` in the directory's name, so a caller that recorded
 * `<tmp>/cordon-vault-<dirPrefix>` beforehand can find and unmount it after a crash.
 */
export async function vaultMount(session: string, opts: VaultOptions & { sizeBytes?: number; dirPrefix?: string } = {}): Promise<VaultMount> {
  const files = readAll(session, opts); // fails early (no such session, wrong key) before mounting
  const total = files.reduce((n, f) => n + f.data.length, 0);
  for (const f of files) f.data.fill(0);
  const size = opts.sizeBytes ?? Math.max(1 << 20, Math.ceil(total * 1.25) + files.length * 4096 + (1 << 20));
  const warnings: string[] = [];
  if (isRoot()) {
    const dir = mkdtempSync(join(tmpdir(), `cordon-vault-${opts.dirPrefix ?? ''}`));
    chmodSync(dir, 0o700);
    let mounted = false;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700,nosuid,nodev,noexec`, 'tmpfs', dir], { stdio: 'pipe' });
      mounted = true;
      materialize(session, dir, opts);
      execFileSync('mount', ['-o', 'remount,ro,size=' + size, dir], { stdio: 'pipe' });
      let done = false;
      return {
        dir,
        privateMount: true,
        readOnly: true,
        warnings,
        async cleanup() {
          if (done) return;
          execFileSync('umount', [dir], { stdio: 'pipe' });
          rmSync(dir, { recursive: true, force: true });
          done = true;
        },
      };
    } catch (e) {
      if (mounted) {
        try {
          execFileSync('umount', [dir], { stdio: 'pipe' });
        } catch {
          /* reported below */
        }
      }
      rmSync(dir, { recursive: true, force: true });
      if (e instanceof VaultError) throw e;
      warnings.push(`could not mount a private tmpfs (${(e as Error).message.split('\n')[0]}); falling back to /dev/shm`);
    }
  }
  if (!existsSync('/dev/shm') || fsTypeOf('/dev/shm') !== 'tmpfs') {
    throw new VaultError('invalid', 'cannot mount a private tmpfs (needs root) and /dev/shm is not a tmpfs: refusing to write decrypted files to disk');
  }
  warnings.push('vault content is in /dev/shm: RAM-backed but not a private mount (run as root for a private tmpfs)');
  mkdirSync('/dev/shm', { recursive: true });
  const dir = mkdtempSync(`/dev/shm/cordon-vault-${opts.dirPrefix ?? ''}`);
  chmodSync(dir, 0o700);
  try {
    materialize(session, dir, opts);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  chmodSync(dir, 0o500);
  let done = false;
  return {
    dir,
    privateMount: false,
    readOnly: false,
    warnings,
    async cleanup() {
      if (done) return;
      if (existsSync(dir)) {
        chmodSync(dir, 0o700);
        for (const n of readdirSync(dir)) {
          const p = join(dir, n);
          chmodSync(p, 0o600);
          rmSync(p, { force: true });
        }
        rmSync(dir, { recursive: true, force: true });
      }
      done = true;
    },
  };
}
