/**
 * `cordon events FILE [--follow] [--type T,…] [--host H] [--json]`: the guard's event log, like
 * journalctl: one line per event (or the JSON lines as written, with --json), filtered by type and
 * host; --follow keeps printing as the guard appends. Lines that are not events are reported on
 * stderr by line number. Exit codes: 0 ok · 2 no such file or bad flags.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { EventLogReader } from '../../guard/eventlog.js';
import { eventMatches, formatEvent } from '../../guard/format.js';
import { GuardEventSchema } from '../../guard/events.js';
import { EXIT, ExitError } from '../io.js';

interface EventsFlags {
  follow?: boolean;
  type?: string;
  host?: string;
  json?: boolean;
}

const TYPES = GuardEventSchema.options.flatMap((o) => {
  const t = o.shape.type;
  return 'options' in t ? [...(t.options as readonly string[])] : [t.value];
});

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description("print the guard's event log (written by cordon guard --events FILE), optionally following it")
    .argument('<file>', 'event log (JSON lines)')
    .option('-f, --follow', 'keep printing events as they are appended')
    .option('--type <types>', `only these types, comma-separated (${TYPES.join(', ')})`)
    .option('--host <name>', 'only events of this host')
    .option('--json', 'print the JSON lines as written')
    .action(async (file: string, opts: EventsFlags) => {
      if (!existsSync(file)) throw new ExitError(EXIT.invalid, `no event log '${file}'`);
      const types = opts.type?.split(',').map((t) => t.trim());
      const unknown = types?.filter((t) => !TYPES.includes(t)) ?? [];
      if (unknown.length > 0)
        throw new ExitError(EXIT.invalid, `--type: unknown event type ${unknown.map((t) => `'${t}'`).join(', ')} (one of ${TYPES.join(', ')})`);
      const reader = new EventLogReader(file);
      const print = (): void => {
        const chunk = reader.read();
        for (const n of chunk.bad) process.stderr.write(`cordon events: ${file}:${n}: not an event of this schema (skipped)\n`);
        for (const e of chunk.events) {
          if (!eventMatches(e, { types, host: opts.host })) continue;
          process.stdout.write(`${opts.json ? JSON.stringify(e) : formatEvent(e)}\n`);
        }
      };
      print();
      if (!opts.follow) return;
      await new Promise<void>((resolve) => {
        const timer = setInterval(print, 200);
        const stop = (): void => {
          clearInterval(timer);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
