/** `cordon lint` (being written). */
import type { Command } from 'commander';

export function registerLint(program: Command): void {
  void program;
}
