/**
 * `cordon events FILE [--follow] [--type T,…] [--host H] [--json]`: the guard's event log, like
 * journalctl: one line per event (or the JSON lines as written, with --json), filtered by type and
 * host; --follow keeps printing as the guard appends. Lines that are not events are reported on
 * stderr by line number. `cordon events --server URL …` reads the same from the events guards
 * reported to a cordon server (an events:read token from --token-file, $CORDON_TOKEN or --token).
 * Exit codes: 0 ok · 1 the server could not be read · 2 no such file or bad flags.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { EventLogReader } from '../../guard/eventlog.js';
import { eventMatches, formatEvent, type EventFilter } from '../../guard/format.js';
import { GuardEventSchema, type GuardEvent } from '../../guard/events.js';
import { parseReportUrl } from '../../guard/report.js';
import { EXIT, ExitError } from '../io.js';
import { followServerEvents, listServerEvents, newestServerEventId, ServerReadError, type ServerEntry, type ServerSource } from '../../server/events-client.js';
import { readToken, tokenFlagCount, warnPlainHttp, type TokenFlags } from './token-flags.js';

/** The variable an events:read token may come from. */
const SERVER_TOKEN_ENV = 'CORDON_TOKEN';

interface EventsFlags extends TokenFlags {
  follow?: boolean;
  type?: string;
  host?: string;
  json?: boolean;
  server?: string;
}

const TYPES = GuardEventSchema.options.flatMap((o) => {
  const t = o.shape.type;
  return 'options' in t ? [...(t.options as readonly string[])] : [t.value];
});

function say(line: string): void {
  process.stderr.write(`cordon events: ${line}\n`);
}

/** Blocks until SIGINT or SIGTERM (what ends --follow, with exit 0). */
function untilStopped(): { signal: AbortSignal; stopped: Promise<void> } {
  const ac = new AbortController();
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      ac.abort();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return { signal: ac.signal, stopped };
}

function fromFile(file: string, opts: EventsFlags, filter: EventFilter): Promise<void> | void {
  if (!existsSync(file)) throw new ExitError(EXIT.invalid, `no event log '${file}'`);
  const reader = new EventLogReader(file);
  const print = (): void => {
    const chunk = reader.read();
    for (const n of chunk.bad) say(`${file}:${n}: not an event of this schema (skipped)`);
    for (const e of chunk.events) if (eventMatches(e, filter)) process.stdout.write(`${opts.json ? JSON.stringify(e) : formatEvent(e)}\n`);
  };
  print();
  if (!opts.follow) return;
  const timer = setInterval(print, 200);
  return untilStopped().stopped.then(() => clearInterval(timer));
}

async function fromServer(src: ServerSource, opts: EventsFlags, filter: EventFilter): Promise<void> {
  // Events of another schema version (or another writer) are said by id and skipped, as bad lines of a file are.
  const print = (entry: ServerEntry): void => {
    const parsed = GuardEventSchema.safeParse(entry.event);
    if (!parsed.success) return say(`${src.origin}: event ${entry.id}: not an event of this schema (skipped)`);
    const e: GuardEvent = parsed.data;
    if (eventMatches(e, filter)) process.stdout.write(`${opts.json ? JSON.stringify(e) : formatEvent(e)}\n`);
  };
  try {
    // The newest id before listing: the stream resumes after it or after the last one listed, so no event falls between them.
    const newest = opts.follow ? await newestServerEventId(src) : 0;
    // The server filters by one type; several are filtered here.
    const one = filter.types?.length === 1 ? filter.types[0] : undefined;
    const listed = await listServerEvents(src, { type: one, host: filter.host });
    for (const entry of listed) print(entry);
    if (!opts.follow) return;
    const { signal, stopped } = untilStopped();
    const after = Math.max(newest, listed[listed.length - 1]?.id ?? 0);
    await Promise.race([followServerEvents(src, after, print, signal, say), stopped]);
  } catch (e) {
    if (e instanceof ServerReadError) throw new ExitError(EXIT.failed, e.message);
    throw e;
  }
}

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description(
      "print the guard's event log (written by cordon guard --events FILE), or the events guards reported to a cordon server, optionally following it",
    )
    .argument('[file]', 'event log (JSON lines)')
    .option('-f, --follow', 'keep printing events as they are appended (or as the server stores them)')
    .option('--type <types>', `only these types, comma-separated (${TYPES.join(', ')})`)
    .option('--host <name>', 'only events of this host')
    .option('--json', 'print the events as JSON lines, as a guard writes them')
    .option('--server <url>', 'read the events guards reported to this cordon server (GET URL/api/events) instead of a file')
    .option('--token-file <file>', `the API token (events:read scope) for --server, read from FILE (or set $${SERVER_TOKEN_ENV})`)
    .option('--token <token>', 'the API token on the command line (visible in ps until cordon reads it: prefer --token-file)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok · 1 the server could not be read (unreachable, token refused) · 2 no such file or bad flags

Examples:
  cordon events /var/log/cordon/events.jsonl --follow --type blocked,drift
  CORDON_TOKEN=$(cat ~/.cordon/events.token) cordon events --server https://cordon.example --host pve --json`,
    )
    .action(async (file: string | undefined, opts: EventsFlags) => {
      if ((file === undefined) === (opts.server === undefined)) throw new ExitError(EXIT.invalid, 'give an event log FILE or --server URL (one of them)');
      if (opts.server === undefined && tokenFlagCount(opts) > 0) throw new ExitError(EXIT.invalid, '--token and --token-file go with --server URL');
      const types = opts.type?.split(',').map((t) => t.trim());
      const unknown = types?.filter((t) => !TYPES.includes(t)) ?? [];
      if (unknown.length > 0)
        throw new ExitError(EXIT.invalid, `--type: unknown event type ${unknown.map((t) => `'${t}'`).join(', ')} (one of ${TYPES.join(', ')})`);
      const filter: EventFilter = { types, host: opts.host };
      if (file !== undefined) return fromFile(file, opts, filter);
      const url = parseReportUrl(opts.server!);
      if ('error' in url) throw new ExitError(EXIT.invalid, `--server: ${url.error}`);
      const token = readToken(opts, { envVar: SERVER_TOKEN_ENV, scope: 'with the events:read scope', neededBy: '--server', say });
      warnPlainHttp(url.origin, say, 'the token and events');
      await fromServer({ ...url, token }, opts, filter);
    });
}
