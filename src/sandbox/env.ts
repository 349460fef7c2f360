/**
 * The sandbox's environment: a small allowlist of the caller's variables (what programs need to
 * find things and print), plus what `--env NAME[=VALUE]` adds; `--env-all` passes everything.
 * Tokens in the environment (OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, …) therefore
 * stay outside unless named. Pure; values never appear in counts, plans or summaries.
 */

/** Passed by default. An empty --env list passes exactly these (those that are set). */
export const ENV_ALLOW: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TERM',
  'COLORTERM',
  'TZ',
  'NO_COLOR',
  'COLUMNS',
  'LINES',
];
/** Also passed by default: every variable with one of these prefixes (locale categories). */
export const ENV_ALLOW_PREFIX: readonly string[] = ['LC_'];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One `--env`: NAME (the caller's value, if set) or NAME=VALUE. */
export interface EnvPass {
  readonly name: string;
  readonly value?: string;
}

/** Parses `NAME` or `NAME=VALUE`; a bad name is an error (message). */
export function parseEnvPass(text: string): EnvPass | string {
  const eq = text.indexOf('=');
  const name = eq === -1 ? text : text.slice(0, eq);
  if (!NAME.test(name)) return `'${name}' is not a variable name (letters, digits and _, not starting with a digit)`;
  return eq === -1 ? { name } : { name, value: text.slice(eq + 1) };
}

export interface SandboxEnv {
  readonly env: Record<string, string>;
  /** How many variables the sandbox gets / how many of the caller's it does not. */
  readonly passed: number;
  readonly withheld: number;
}

export function sandboxEnv(from: Readonly<Record<string, string | undefined>>, pass: readonly EnvPass[], all: boolean): SandboxEnv {
  const env: Record<string, string> = {};
  const allowed = (k: string): boolean => all || ENV_ALLOW.includes(k) || ENV_ALLOW_PREFIX.some((p) => k.startsWith(p));
  for (const [k, v] of Object.entries(from)) if (v !== undefined && allowed(k)) env[k] = v;
  for (const p of pass) {
    const v = p.value ?? from[p.name];
    if (v !== undefined) env[p.name] = v;
  }
  const hostNames = Object.keys(from).filter((k) => from[k] !== undefined);
  return { env, passed: Object.keys(env).length, withheld: hostNames.filter((k) => !(k in env)).length };
}
