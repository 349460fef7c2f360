/**
 * Stage 2, limits: the plan's cgroup directories and their limits (memory, pids, cpu), and after
 * the command what they say about why it ended (killed for memory, forks refused).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupVersion, SandboxPlan } from '../types.js';

export function cgroupDirs(plan: SandboxPlan, version: CgroupVersion): string[] {
  const dirs = new Set<string>();
  for (const s of plan.steps) if (s.kind === 'cgroup') dirs.add(join('/sys/fs/cgroup', s.path));
  if (version === 'v1' && dirs.size === 0) return [];
  return [...dirs];
}

/** Stage 2: makes the cgroups and writes their limits (a v2 kernel without swap accounting skips memory.swap.max). */
export function limitsStage(plan: SandboxPlan, version: CgroupVersion): void {
  for (const s of plan.steps) {
    if (s.kind !== 'cgroup') continue;
    const dir = join('/sys/fs/cgroup', s.path);
    mkdirSync(dir, { recursive: true });
    if (version === 'v2' && s.file === 'memory.swap.max' && !existsSync(join(dir, s.file))) continue;
    writeFileSync(join(dir, s.file), s.value);
  }
}

export function oomKilled(dirs: readonly string[], version: CgroupVersion): boolean {
  for (const d of dirs) {
    try {
      if (version === 'v2' && existsSync(join(d, 'memory.events'))) {
        const m = /^oom_kill (\d+)/m.exec(readFileSync(join(d, 'memory.events'), 'utf8'));
        if (m && Number(m[1]) > 0) return true;
      }
      if (version === 'v1' && existsSync(join(d, 'memory.oom_control'))) {
        const m = /^oom_kill (\d+)/m.exec(readFileSync(join(d, 'memory.oom_control'), 'utf8'));
        if (m && Number(m[1]) > 0) return true;
        if (!m && Number(readFileSync(join(d, 'memory.failcnt'), 'utf8')) > 0) return true;
      }
    } catch {
      // cgroup gone: unknown
    }
  }
  return false;
}

export function pidsHit(dirs: readonly string[]): boolean {
  for (const d of dirs) {
    try {
      if (existsSync(join(d, 'pids.events'))) {
        const m = /^max (\d+)/m.exec(readFileSync(join(d, 'pids.events'), 'utf8'));
        if (m && Number(m[1]) > 0) return true;
      }
    } catch {
      // as above
    }
  }
  return false;
}
