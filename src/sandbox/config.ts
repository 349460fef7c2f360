/**
 * `cordon run`'s options, described once: one key per CLI flag, spelled like the flag without its
 * dashes (`host-netns: lab` = `--host-netns lab`), plus `command:`. Its output type is the
 * SandboxRequest both a config file (cordon-sandbox.yaml) and the command line's flags are read
 * into; request.ts turns either into the sandbox's input, the same way.
 *
 * The schema checks a file's shape (types, kebab-case keys, the mode names, that numbers look like
 * numbers) with diagnostics located at FILE:LINE:COL like `cordon check`'s; what a value means
 * (an allow entry, a spec host) is request.ts's, for flags and files alike. Numbers are accepted
 * where natural (`cpus: 0.5`, `pids: 64`, `publish: [3000]`, `memory: 536870912`) and read as the
 * flag's text would be. Relative paths resolve against the config file's directory.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { diag, sortDiagnostics, type Diagnostic } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import { formatDiagnostics } from '../diag/format.js';
import { describeValue, formatPath, getAt, parseYamlText, type PathSeg, type SourceMap } from '../spec/parse.js';
import { closest } from '../util/suggest.js';
import { normalizeRequest } from './request.js';
import { CONFIG_MODES, SandboxConfigSchema, type SandboxConfigInput, type SandboxRequest } from './schema.js';

// The schema and its types live in schema.ts (below this file and request.ts, which both use them).
export { CONFIG_MODES, SandboxConfigSchema, type SandboxConfigInput, type SandboxRequest };

/** Bad input: `message` is the formatted diagnostics (no colour), as `cordon check` prints them. */
export class ConfigError extends Error {
  constructor(
    readonly diagnostics: readonly Diagnostic[],
    /** The file's text, for code frames when formatting again (e.g. in colour). */
    readonly source: SourceMap | undefined,
  ) {
    super(formatDiagnostics(diagnostics, { sources: sourcesOf(source), color: false }));
    this.name = 'ConfigError';
  }
}

function sourcesOf(source: SourceMap | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (source) m.set(source.file, source.text);
  return m;
}

/** Reads and checks a sandbox config; throws ConfigError (message = the diagnostics) when it is wrong. */
export function loadSandboxConfig(file: string): SandboxRequest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new ConfigError([diag(Code.FILE_UNREADABLE, 'error', `cannot read sandbox config: ${why}`, { file })], undefined);
  }
  return parseSandboxConfig(text, file, dirname(resolve(file)));
}

/** As loadSandboxConfig, from text; relative paths resolve against `baseDir`. */
export function parseSandboxConfig(text: string, file = '<input>', baseDir = process.cwd()): SandboxRequest {
  return parseRequestText(text, file, baseDir);
}

/** `baseDir` undefined: relative paths stay as written. */
function parseRequestText(text: string, file: string, baseDir: string | undefined): SandboxRequest {
  const yaml = parseYamlText(text, file);
  if (!yaml.ok) throw new ConfigError(yaml.diagnostics, yaml.source);
  const { data, source } = yaml;
  const hint = 'e.g. `mode: filtered`, `allow: [api.example.com:443]`, `command: [python3, agent.py]`';
  if (data === null || data === undefined) {
    throw new ConfigError(
      [diag(Code.SCHEMA, 'error', 'the sandbox config is empty: expected a mapping of cordon run options', { file, line: 1, col: 1 }, hint)],
      source,
    );
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(
      [diag(Code.SCHEMA, 'error', `a sandbox config is a mapping of cordon run options, got ${describeValue(data)}`, source.pos([]), hint)],
      source,
    );
  }
  const parsed = SandboxConfigSchema.safeParse(data);
  if (!parsed.success) {
    throw new ConfigError(sortDiagnostics(parsed.error.issues.flatMap((i) => issueToDiagnostics(i, source, data, []))), source);
  }
  return normalizeRequest(parsed.data, baseDir);
}

/**
 * A library caller's options object, checked by the same schema as a file (diagnostics name the
 * place in its JSON form) and normalized: relative paths resolve against `baseDir` when given,
 * else they stay relative to the current directory, as flags do.
 */
export function sandboxRequest(value: SandboxConfigInput, baseDir?: string): SandboxRequest {
  return parseRequestText(`${JSON.stringify(value, null, 2)}\n`, '<request>', baseDir);
}

// ---------------------------------------------------------------------------------------------
// zod issues → diagnostics, in the words of `cordon check` (see spec/parse.ts).

type Issue = z.core.$ZodIssue;

/** What a value at this place should be, for "expected …, got …" messages. */
const EXPECTED: Record<string, string> = {
  mode: `one of ${CONFIG_MODES.join(', ')}`,
  allow: 'a destination (IP[/LEN][:PORT], DOMAIN[:PORT] or HOST[:PORT]) or a list of them',
  'allow[]': 'a destination: IP[/LEN][:PORT], DOMAIN[:PORT] or HOST[:PORT], as a string',
  deny: 'a destination (IP[/LEN][:PORT] or HOST[:PORT]) or a list of them',
  'deny[]': 'a destination: IP[/LEN][:PORT] or HOST[:PORT], as a string',
  publish: 'a TCP port (1-65535) or a list of them',
  'publish[]': 'a TCP port, 1-65535',
  memory: 'a size: bytes, or a number with k, m, g or t (512m, 1g)',
  cpus: 'a number of CPUs above 0 (0.5, 2)',
  pids: 'a whole number above 0 (64)',
  timeout: 'a duration: 30s, 500ms, 2m, 1h, or a number of seconds',
  'tunnel-wait': 'a duration: 5s, 500ms, or a number of seconds',
  ro: 'a path or a list of paths',
  'ro[]': 'a path',
  rw: 'a path or a list of paths',
  'rw[]': 'a path',
  workdir: 'a path',
  env: 'NAME or NAME=VALUE, or a list of them',
  'env[]': 'NAME or NAME=VALUE (a variable name: letters, digits and _)',
  'env-all': 'true or false',
  show: 'a path or a list of paths',
  'show[]': 'a path',
  'allow-userns': 'true or false',
  'host-netns': 'a network namespace name',
  'dns-upstream': 'an address IP[:PORT]',
  spec: 'the path of a cordon spec',
  as: 'the name of a host in the spec',
  wireguard: 'the path of a WireGuard config',
  vault: 'a vault session name',
  'i-mean-the-host': 'true or false',
  events: 'a path',
  json: 'true or false',
  'dry-run': 'true or false',
  quiet: 'true or false',
  command: 'a list: the command and its arguments, e.g. [python3, agent.py]',
  'command[]': 'a string (one argument)',
};

function expectedAt(path: readonly PathSeg[]): string | undefined {
  const key = path.map((s) => (typeof s === 'number' ? '[]' : s)).join('');
  return EXPECTED[key];
}

function descriptionAt(path: readonly PathSeg[]): string | undefined {
  const field = path[0];
  if (typeof field !== 'string') return undefined;
  let node: z.ZodType | undefined = (SandboxConfigSchema.shape as Record<string, z.ZodType>)[field];
  for (; node;) {
    if (node.description) return node.description;
    const def = node._zod.def as { type: string; innerType?: z.ZodType };
    node = def.type === 'optional' ? def.innerType : undefined;
  }
  return undefined;
}

/** A union branch that is not what the user meant: wrong type at the value itself. */
function wrongBranch(branch: readonly Issue[], at: readonly PathSeg[]): boolean {
  return branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || (i.code === 'invalid_union' && i.errors.every((b) => wrongBranch(b, at)))));
}

function issueToDiagnostics(issue: Issue, source: SourceMap, data: unknown, prefix: readonly PathSeg[]): Diagnostic[] {
  const path = [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
  const value = getAt(data, path);
  const got = describeValue(value);
  const described = descriptionAt(path);
  const one = (message: string, hint: string | undefined = described, at = source.pos(path)): Diagnostic[] => [diag(Code.SCHEMA, 'error', message, at, hint)];

  if (issue.code === 'unrecognized_keys') {
    const allowed = Object.keys(SandboxConfigSchema.shape);
    return issue.keys.map((key) => {
      const near = closest(key, allowed) ?? closest(key.replace(/([a-z])([A-Z])/g, '$1-$2').replace(/_/g, '-'), allowed);
      const hint = near ? `did you mean '${near}'?` : `expected one of: ${allowed.join(', ')}`;
      const where = path.length ? ` in ${formatPath(path)}` : ' at the top level';
      return diag(Code.SCHEMA, 'error', `unknown field '${key}'${where}`, source.pos([...path, key], true), hint);
    });
  }
  if (issue.code === 'invalid_union') {
    const plausible = issue.errors.filter((b) => !wrongBranch(b, path));
    if (plausible.length === 1) return plausible[0]!.flatMap((i) => issueToDiagnostics(i, source, data, path));
  }
  if (issue.code === 'invalid_value') {
    const near = typeof value === 'string' ? closest(value, issue.values.map(String)) : undefined;
    const valid = issue.values.map(String).join(', ');
    return one(`expected one of ${valid}, got ${got}`, near ? `did you mean '${near}'? (valid: ${valid})` : `valid: ${valid}`);
  }
  if (issue.code === 'too_small' && issue.origin === 'array') return one(`expected ${expectedAt(path) ?? 'at least one item'}, got an empty list`);
  if (issue.code === 'too_small' && issue.origin === 'string') return one(`expected ${expectedAt(path) ?? 'a non-empty string'}, got an empty string`);
  if (path.length === 1 && path[0] === 'command' && typeof value === 'string') {
    return one(`expected ${expectedAt(path)!}, got ${got}`, `write it as a list, one item per argument: [${value.trim().split(/\s+/).join(', ')}]`);
  }
  const expected = expectedAt(path);
  if (expected) return one(`expected ${expected}, got ${got}`);
  return one(`${issue.message}${got !== 'nothing' ? ` (got ${got})` : ''}`);
}
