/** `cordon diff` (being written). */
import type { Command } from 'commander';

export function registerDiff(program: Command): void {
  void program;
}
