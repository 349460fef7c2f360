/**
 * Snapshots of cordon's tables in a target, and restoring them: what every rollback (by the
 * applying process, by its watchdog, by `--rollback`) goes back to. The snapshot is nft's own
 * listing of cordon's tables taken before a run; restoring deletes cordon's current tables and
 * loads the saved ones in one transaction, then checks that the target holds the snapshot again.
 */
import { firstError } from '../system/exec.js';
import type { Target } from './target.js';
import { isCordonTable } from './shape.js';
import type { RunDir, SnapshotInfo } from './state.js';

export const BRIDGE_SYSCTL = 'net.bridge.bridge-nf-call-iptables';

export interface TableRef {
  readonly family: string;
  readonly name: string;
}

export const key = (t: TableRef): string => `${t.family} ${t.name}`;

/** cordon's tables loaded in the target, sorted. */
export async function cordonTables(target: Target): Promise<TableRef[]> {
  const r = await target.exec(['nft', '-j', 'list', 'tables']);
  if (r.code !== 0) throw new Error(`nft -j list tables in ${target.label} failed: ${firstError(r)}`);
  const doc = JSON.parse(r.stdout) as { nftables?: { table?: TableRef }[] };
  return (doc.nftables ?? [])
    .flatMap((o) => (o.table ? [{ family: o.table.family, name: o.table.name }] : []))
    .filter((t) => isCordonTable(t.name))
    .sort((a, b) => key(a).localeCompare(key(b)));
}

export async function listTable(target: Target, t: TableRef, stateless: boolean): Promise<string> {
  const r = await target.exec(['nft', ...(stateless ? ['-s'] : []), 'list', 'table', t.family, t.name]);
  if (r.code !== 0) throw new Error(`nft list table ${key(t)} in ${target.label} failed: ${firstError(r)}`);
  return r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`;
}

/** `table X {}` then `delete table X` for each: removes them inside the same transaction, existing or not. */
export function replacePreamble(tables: readonly TableRef[]): string {
  if (tables.length === 0) return '';
  const seen = [...new Map(tables.map((t) => [key(t), t])).values()];
  return `${seen.map((t) => `table ${t.family} ${t.name} {}`).join('\n')}\n${seen.map((t) => `delete table ${t.family} ${t.name}`).join('\n')}\n`;
}

async function statelessTexts(target: Target, tables: readonly TableRef[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of tables) out[key(t)] = await listTable(target, t, true);
  return out;
}

export async function takeSnapshot(target: Target, runDir: RunDir, host: string, bridge: string | undefined): Promise<TableRef[]> {
  const tables = await cordonTables(target);
  let text = `# cordon apply snapshot of ${target.label}: cordon's tables before this run\n`;
  for (const t of tables) text += await listTable(target, t, false);
  runDir.write('snapshot.nft', text);
  runDir.write('snapshot.stateless.json', `${JSON.stringify(await statelessTexts(target, tables), null, 1)}\n`);
  const info: SnapshotInfo = { tables, bridgeNfCallIptables: bridge, host, target: target.label, time: new Date().toISOString() };
  runDir.write('snapshot.json', `${JSON.stringify(info, null, 2)}\n`);
  return tables;
}

/** True when the target holds exactly the snapshot's cordon tables with the snapshot's contents. */
export async function matchesSnapshot(target: Target, runDir: RunDir): Promise<boolean> {
  const info = runDir.snapshot();
  const saved = JSON.parse(runDir.read('snapshot.stateless.json') ?? '{}') as Record<string, string>;
  if (!info) return false;
  const now = await cordonTables(target);
  if (now.map(key).join('|') !== info.tables.map(key).join('|')) return false;
  const texts = await statelessTexts(target, now);
  return Object.keys(saved).every((k) => saved[k] === texts[k]);
}

/**
 * Restores the snapshot of a run: deletes cordon's current tables and loads the saved ones, in
 * one transaction; puts the bridge sysctl back if this run changed it; checks the result.
 */
export async function restoreSnapshot(target: Target, runDir: RunDir): Promise<{ ok: boolean; message: string }> {
  const info = runDir.snapshot();
  const saved = runDir.read('snapshot.nft');
  if (!info || saved === undefined) return { ok: false, message: `no snapshot in ${runDir.path}` };
  let current: TableRef[];
  try {
    current = await cordonTables(target);
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
  const tx = `${replacePreamble([...current, ...info.tables])}${saved}`;
  const file = runDir.write('restore.nft', tx);
  const r = await target.exec(['nft', '-f', file]);
  if (r.code !== 0) return { ok: false, message: `nft -f ${file} failed: ${firstError(r)}` };
  if (runDir.has('sysctl-changed') && info.bridgeNfCallIptables !== undefined) {
    const s = await target.exec(['sysctl', '-q', '-w', `${BRIDGE_SYSCTL}=${info.bridgeNfCallIptables}`]);
    if (s.code !== 0)
      return { ok: false, message: `rule set restored, but ${BRIDGE_SYSCTL} could not be set back to ${info.bridgeNfCallIptables}: ${firstError(s)}` };
  }
  if (!(await matchesSnapshot(target, runDir)))
    return { ok: false, message: `after restoring, cordon's tables in ${target.label} still differ from the snapshot in ${runDir.path}` };
  const names = info.tables.length ? info.tables.map(key).join(', ') : 'no cordon tables';
  return { ok: true, message: `restored the snapshot (${names}) from ${runDir.path}` };
}
