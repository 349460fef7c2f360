/**
 * The flags that send a guard's events to a cordon server (`--report-to URL` and its token, spool
 * and buffer), declared and validated once for `cordon guard` and `cordon lab up --guard`, so the
 * two take the same flags, say the same help and refuse the same mistakes.
 */
import type { Command } from 'commander';
import { DEFAULT_SPOOL_BYTES, parseReportUrl } from '../../guard/report.js';
import { EXIT, ExitError } from '../io.js';
import { readToken, tokenFlagCount, warnPlainHttp, type TokenFlags } from './token-flags.js';

/** The variable a report token may come from. */
export const REPORT_TOKEN_ENV = 'CORDON_REPORT_TOKEN';

export interface ReportFlags extends TokenFlags {
  reportTo?: string;
  reportSpool?: string;
  reportBuffer?: string;
}

/** Where and how events go to a cordon server, validated; the token never leaves this object but for the header. */
export interface ReportSettings {
  /** The URL as given (validated), for a child guard's command line. */
  readonly url: string;
  readonly endpoint: string;
  readonly origin: string;
  readonly token: string;
  readonly spoolDir: string | undefined;
  readonly spoolBytes: number;
}

/** Declares the report flags on `cmd`; `lead` goes before each description ('with --guard: '). */
export function addReportOptions(cmd: Command, lead = ''): Command {
  return cmd
    .option(
      '--report-to <url>',
      `${lead}also send every event to a cordon server (POST URL/api/events; http or https), spooled on disk while it is unreachable`,
    )
    .option('--token-file <file>', `${lead}the API token (events:write scope) for --report-to, read from FILE (or set $${REPORT_TOKEN_ENV})`)
    .option('--token <token>', `${lead}the API token on the command line (visible in ps until cordon reads it: prefer --token-file)`)
    .option('--report-spool <dir>', `${lead}where events wait for the server (default: .cordon/report/<hash> beside the apply state)`)
    .option(
      '--report-buffer <size>',
      `${lead}the spool's bound on disk, e.g. 16M (default ${DEFAULT_SPOOL_BYTES / 1024 / 1024}M); past it events are dropped and counted`,
    );
}

/** `16M`, `512K`, `1G` or bytes: the spool's bound. */
function sizeBytes(v: string | undefined): number {
  if (v === undefined) return DEFAULT_SPOOL_BYTES;
  const m = /^(\d+)([KMG]?)$/i.exec(v.trim());
  const n = m ? Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!.toUpperCase()]! : NaN;
  if (!(n >= 4096 && n <= 1024 ** 3)) throw new ExitError(EXIT.invalid, `--report-buffer must be a size from 4K to 1G (e.g. 16M), got '${v}'`);
  return n;
}

/** True when any report flag was given (they all need --guard on `lab up`). */
export function anyReportFlag(opts: ReportFlags): boolean {
  return opts.reportTo !== undefined || tokenFlagCount(opts) > 0 || opts.reportSpool !== undefined || opts.reportBuffer !== undefined;
}

/** The report flags, or undefined without --report-to; an ExitError (exit 2) for any mistake in them. */
export function reportSettings(opts: ReportFlags, say: (line: string) => void): ReportSettings | undefined {
  if (opts.reportTo === undefined) {
    if (anyReportFlag(opts)) throw new ExitError(EXIT.invalid, '--token, --token-file, --report-spool and --report-buffer go with --report-to URL');
    return undefined;
  }
  const url = parseReportUrl(opts.reportTo);
  if ('error' in url) throw new ExitError(EXIT.invalid, `--report-to: ${url.error}`);
  const token = readToken(opts, { envVar: REPORT_TOKEN_ENV, scope: 'with the events:write scope', neededBy: '--report-to', say });
  warnPlainHttp(url.origin, say);
  return { url: opts.reportTo, ...url, token, spoolDir: opts.reportSpool, spoolBytes: sizeBytes(opts.reportBuffer) };
}
