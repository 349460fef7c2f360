/**
 * A cordon server's API token as the commands that talk to one take it: `--token-file FILE`, else
 * an environment variable, else `--token T`. A token given as a flag is in /proc/PID/cmdline for
 * every user to read, so it is masked in the process title as soon as it is read, with a warning.
 * No message made here ever holds the token.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseToken } from '../../guard/report.js';
import { EXIT, ExitError } from '../io.js';

export interface TokenFlags {
  token?: string;
  tokenFile?: string;
}

export interface TokenSource {
  /** The variable read when no --token-file is given, e.g. CORDON_REPORT_TOKEN. */
  readonly envVar: string;
  /** What the token is for, in the error without one: 'with the events:write scope'. */
  readonly scope: string;
  /** The flag that needs the token, in that error: '--report-to'. */
  readonly neededBy: string;
  readonly say: (line: string) => void;
}

/** How many of --token and --token-file were given. */
export function tokenFlagCount(opts: TokenFlags): number {
  return [opts.token !== undefined, opts.tokenFile !== undefined].filter(Boolean).length;
}

/** The token, validated; an ExitError (exit 2) naming where it came from when it is missing or malformed. */
export function readToken(opts: TokenFlags, src: TokenSource): string {
  if (tokenFlagCount(opts) > 1) throw new ExitError(EXIT.invalid, `give the token one way: --token-file FILE (or $${src.envVar}), not also --token`);
  let raw: string | undefined;
  let from: string;
  const env = process.env[src.envVar];
  if (opts.tokenFile !== undefined) {
    from = `--token-file ${opts.tokenFile}`;
    try {
      raw = readFileSync(opts.tokenFile, 'utf8');
      if ((statSync(opts.tokenFile).mode & 0o077) !== 0) src.say(`warning: ${opts.tokenFile} is readable by other users; chmod 600 it`);
    } catch (e) {
      throw new ExitError(EXIT.invalid, `--token-file: cannot read '${opts.tokenFile}': ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  } else if (env !== undefined) {
    from = `$${src.envVar}`;
    raw = env;
  } else {
    from = '--token';
    raw = opts.token;
  }
  if (raw === undefined) throw new ExitError(EXIT.invalid, `${src.neededBy} needs a token ${src.scope}: --token-file FILE, $${src.envVar}, or --token T`);
  const token = parseToken(raw);
  if (typeof token !== 'string') throw new ExitError(EXIT.invalid, `${from}: ${token.error}`);
  if (opts.token !== undefined) {
    process.title = process.argv.map((a) => (a === opts.token ? '***' : a)).join(' ');
    src.say(`warning: --token is visible to other users (ps) until cordon reads it; prefer --token-file or $${src.envVar}`);
  }
  return token;
}

/** Says so when a token would travel in clear text (http to anything but loopback). */
export function warnPlainHttp(origin: string, say: (line: string) => void, what = 'the token and events'): void {
  const host = new URL(origin).hostname;
  if (origin.startsWith('http:') && !/^(127\.|\[::1\]$|localhost$)/.test(host)) say(`warning: ${origin} is plain http: ${what} travel unencrypted`);
}
