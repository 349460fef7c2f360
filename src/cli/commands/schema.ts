/** `cordon schema`: the JSON Schema of a spec, for editor completion. */
import type { Command } from 'commander';
import { z } from 'zod';
import { SpecSchema } from '../../spec/schema.js';
import { printJson } from '../io.js';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of cordon.yaml (for editor completion, e.g. yaml-language-server)')
    .action(() => {
      printJson(z.toJSONSchema(SpecSchema, { io: 'input' }));
    });
}
