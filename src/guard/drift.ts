/**
 * Drift and tamper: whether cordon's tables in a kernel still are the rule set that was loaded.
 *
 * The expected side is nft's own listing of the rendered rule set, loaded into a throw-away
 * namespace (`unshare --net`), so both sides are printed by the same nft and compare as text;
 * `-s` leaves out counters, which change all the time. Checks run when `nft monitor` reports any
 * ruleset change in the namespace (immediate, netlink events, debounced) and every `intervalMs`
 * (a monitor can miss events when its socket overflows; the periodic re-read cannot).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitTables } from '../apply/apply.js';
import type { Target } from '../apply/target.js';
import { TABLE_PREFIX } from '../model/names.js';
import { firstError, run } from '../system/exec.js';
import { stopChild } from './child.js';

/** cordon's tables by `family name`, each as `nft -s list` prints it. */
export type TableTexts = ReadonlyMap<string, string>;

function cordonOnly(all: Map<string, string>): Map<string, string> {
  return new Map([...all].filter(([k]) => k.split(' ')[1]!.startsWith(TABLE_PREFIX)).sort(([a], [b]) => a.localeCompare(b)));
}

/** The rendered rule set as nft lists it, through a scratch namespace; nothing on the machine changes. */
export async function expectedTables(ruleset: string): Promise<TableTexts> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-guard-expect-'));
  try {
    const file = join(dir, 'rendered.nft');
    writeFileSync(file, ruleset, { mode: 0o600 });
    const r = await run(['unshare', '--net', 'sh', '-c', 'nft -f "$1" && nft -s list ruleset', 'sh', file]);
    if (r.code !== 0) throw new Error(`the rendered rule set does not load in a scratch namespace: ${firstError(r)}`);
    return cordonOnly(splitTables(r.stdout));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** cordon's tables as they are loaded in the target now. */
export async function loadedTables(target: Target): Promise<TableTexts> {
  return (await loadedRuleset(target)).cordon;
}

/** Every table loaded in the target now: cordon's (as text) and the others (their base chains). */
export async function loadedRuleset(target: Target): Promise<{ cordon: TableTexts; foreign: ReadonlyMap<string, readonly string[]> }> {
  const r = await target.exec(['nft', '-s', 'list', 'ruleset']);
  if (r.code !== 0) throw new Error(`nft list ruleset failed in ${target.label}: ${firstError(r)}`);
  const all = splitTables(r.stdout);
  const foreign = new Map<string, string[]>();
  for (const [k, text] of all) if (!k.split(' ')[1]!.startsWith(TABLE_PREFIX)) foreign.set(k, baseChains(text));
  return { cordon: cordonOnly(all), foreign };
}

/**
 * The base chains of one listed table, as `chain (hook HOOK priority P, policy X)`. A foreign base
 * chain cannot accept what cordon's chains drop (a drop in any base chain is final), but one that
 * runs first can change what cordon's chains see: set the marks that stand for guest ports, skip
 * connection tracking, rewrite addresses. So every foreign table with a base chain is reported.
 */
export function baseChains(tableText: string): string[] {
  const out: string[] = [];
  let chain: string | undefined;
  for (const line of tableText.split('\n')) {
    const c = /^\s*chain (\S+) \{$/.exec(line);
    if (c) chain = c[1];
    const h = /^\s*type (\w+) hook (\w+)(?: device "?[^ ;"]+"?)? priority ([^;]+);(?: policy (\w+);)?/.exec(line);
    if (h && chain !== undefined) out.push(`${chain} (${h[1]} hook ${h[2]} priority ${h[3]!.trim()}${h[4] ? `, policy ${h[4]}` : ''})`);
  }
  return out;
}

/** Lines of `a` not matched by a line of `b` (as multisets, trimmed, blank lines ignored). */
function missingLines(a: string, b: string): string[] {
  const pool = new Map<string, number>();
  for (const l of b.split('\n')) {
    const t = l.trim();
    if (t) pool.set(t, (pool.get(t) ?? 0) + 1);
  }
  const out: string[] = [];
  for (const l of a.split('\n')) {
    const t = l.trim();
    if (!t) continue;
    const n = pool.get(t) ?? 0;
    if (n > 0) pool.set(t, n - 1);
    else out.push(t);
  }
  return out;
}

export interface Drift {
  /** Tables that differ, as `family name`, sorted. */
  readonly tables: readonly string[];
  /** One line per difference: `table … is gone`, `table … is not cordon's rule set`, `+ …`/`- …` lines. */
  readonly differences: readonly string[];
}

/** How the loaded tables differ from the expected ones; empty lists when they do not. Pure. */
export function compareTables(expected: TableTexts, loaded: TableTexts): Drift {
  const tables: string[] = [];
  const differences: string[] = [];
  for (const [k, text] of expected) {
    const now = loaded.get(k);
    if (now === undefined) {
      tables.push(k);
      differences.push(`table ${k} is gone`);
    } else if (now !== text) {
      tables.push(k);
      const added = missingLines(now, text);
      const removed = missingLines(text, now);
      for (const l of added) differences.push(`${k}: + ${l}`);
      for (const l of removed) differences.push(`${k}: - ${l}`);
      // Same lines in another order (a rule moved): still a difference.
      if (added.length === 0 && removed.length === 0) differences.push(`${k}: rules reordered`);
    }
  }
  for (const k of loaded.keys()) {
    if (!expected.has(k)) {
      tables.push(k);
      differences.push(`table ${k} is not in the loaded rule set`);
    }
  }
  return { tables: tables.sort(), differences };
}

/** `nft monitor` in the target, calling `onChange` on every ruleset event; ends with the guard (parent-death signal). */
export class NftMonitor {
  private stopped = false;
  private constructor(private readonly child: ChildProcess) {}

  static start(target: Target, onChange: () => void, onExit: (why: string) => void): NftMonitor {
    const argv = ['setpriv', '--pdeathsig', 'KILL', 'nft', 'monitor', 'ruleset'];
    const full = target.netns === undefined ? argv : ['ip', 'netns', 'exec', target.netns, ...argv];
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const m = new NftMonitor(child);
    child.stdout.on('data', () => onChange());
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', (e) => onExit(`nft monitor cannot start: ${e.message}`));
    child.on('exit', (code, sig) => {
      if (!m.stopped) onExit(`nft monitor exited (${sig ?? `code ${code}`}) ${err.trim()}`);
    });
    return m;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopChild(this.child);
  }
}
