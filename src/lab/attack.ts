/** `cordon lab attack HOST` (placeholder, filled in below). */
import type { Ir } from '../ir/types.js';
import type { Progress } from './exec.js';

export interface AttackResult {
  readonly host: string;
  readonly differences: readonly string[];
}

export async function attackLab(ir: Ir, prefix: string, host: string, opts: { say?: (p: Progress) => void }): Promise<AttackResult> {
  void ir;
  void prefix;
  void opts;
  return { host, differences: [] };
}

export function attackToText(r: AttackResult, color: boolean): string {
  void color;
  return `${r.host}\n`;
}
