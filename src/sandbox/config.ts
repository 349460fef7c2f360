/**
 * `cordon run`'s options as a file (cordon-sandbox.yaml): one key per CLI flag, spelled like the
 * flag without its dashes (`host-netns: lab` = `--host-netns lab`), plus `command:`.
 *
 * The file is read into the same flags the CLI receives (strings and string lists, exactly as
 * commander would hand them over), so the one code path behind `cordon run` validates both. The
 * schema here checks the shape (types, kebab-case keys, the mode names, that numbers look like
 * numbers) with diagnostics located at FILE:LINE:COL like `cordon check`'s; what a value means
 * (an allow entry, a spec host) is left to that code path. Numbers are accepted where natural
 * (`cpus: 0.5`, `pids: 64`, `publish: [3000]`, `memory: 536870912`) and turned into the strings
 * the CLI would get. Relative paths resolve against the config file's directory.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { diag, sortDiagnostics, type Diagnostic } from '../diag/diagnostic.js';
import { formatDiagnostics } from '../diag/format.js';
import { describeValue, formatPath, getAt, parseYamlText, type PathSeg, type SourceMap } from '../spec/parse.js';
import { closest } from '../util/suggest.js';
import { MODES } from './plan.js';

/** The flags of `cordon run` as commander hands them over; the CLI's RunFlags is this plus `config`. */
export interface ConfigFlags {
  mode?: string;
  allow: string[];
  deny: string[];
  memory?: string;
  cpus?: string;
  pids?: string;
  timeout?: string;
  tunnelWait?: string;
  ro: string[];
  rw: string[];
  env: string[];
  envAll?: boolean;
  show: string[];
  allowUserns?: boolean;
  workdir?: string;
  hostNetns?: string;
  dnsUpstream?: string;
  publish: string[];
  spec?: string;
  as?: string;
  wireguard?: string;
  vault?: string;
  iMeanTheHost?: boolean;
  events?: string;
  json?: boolean;
  dryRun?: boolean;
  quiet?: boolean;
}

export interface SandboxConfig {
  readonly flags: ConfigFlags;
  /** The command and its arguments, when the file names one. */
  readonly command?: string[];
}

/** The list flags: repeatable on the command line, a YAML list (or one value) in the file. */
export const LIST_FLAGS = ['allow', 'deny', 'ro', 'rw', 'publish', 'env', 'show'] as const;
type ListFlag = (typeof LIST_FLAGS)[number];

/** Every network mode a config may name: the sandbox's own list. */
export const CONFIG_MODES = MODES;

// Mirrors of parseBytes / parseDuration in plan.ts, so the JSON Schema carries them as patterns.
const SIZE = /^\d+(\.\d+)?\s*[kmgtKMGT]?[bB]?$/;
const DURATION = /^\d+(\.\d+)?(ms|s|m|h)?$/;

const oneOrMany = <T extends z.ZodType>(item: T, what: string) => z.union([item, z.array(item)]).describe(what);

const Path = z.string().min(1).describe('A path; a relative one is relative to this file\'s directory.');
const NetEntry = z.string().min(1).describe('IP[/LEN][:PORT], DOMAIN[:PORT] (*.example.com for subdomains) or, with spec:, HOST[:PORT].');
const DenyEntry = z.string().min(1).describe('IP[/LEN][:PORT] or, with spec:, HOST[:PORT].');
const Port = z
  .union([z.number().int().min(1).max(65535), z.string().regex(/^\d{1,5}$/, 'a TCP port')])
  .describe('A TCP port, 1-65535.');

export const SandboxConfigSchema = z
  .strictObject({
    mode: z
      .enum(CONFIG_MODES)
      .optional()
      .describe('The network: isolated (no network), filtered (only allow: destinations), vpn-only (only through wireguard:) or open. Default: isolated, or filtered when allow: is given.'),
    allow: oneOrMany(NetEntry, 'Filtered mode: destinations the sandbox may reach: IP[/LEN][:PORT[-PORT]][/tcp|/udp] (a port alone means tcp and udp), IP[/LEN]/icmp, DOMAIN[:PORT] (*.example.com for subdomains) or, with spec:, HOST[:PORT]. vpn-only mode: what may use the tunnel.').optional(),
    deny: oneOrMany(DenyEntry, 'Destinations denied ahead of the allowlist: IP[/LEN][:PORT] or, with spec:, HOST[:PORT].').optional(),
    publish: oneOrMany(Port, "Filtered mode: the sandbox's TCP ports made reachable on the host namespace's 127.0.0.1.").optional(),
    memory: z
      .union([z.number().int().positive(), z.string().regex(SIZE, 'a size')])
      .optional()
      .describe('Memory limit: bytes, or a number with k, m, g or t (512m, 1g); exceeding it kills the command (exit 137).'),
    cpus: z
      .union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?$/, 'a number')])
      .optional()
      .describe('CPU limit, in CPUs (0.5, 2).'),
    pids: z
      .union([z.number().int().positive(), z.string().regex(/^\d+$/, 'a whole number')])
      .optional()
      .describe('At most this many processes and threads (64).'),
    timeout: z
      .union([z.number().positive(), z.string().regex(DURATION, 'a duration')])
      .optional()
      .describe('Wall-clock limit: 30s, 500ms, 2m, 1h, or a number of seconds; exceeding it: exit 124.'),
    'tunnel-wait': z
      .union([z.number().positive(), z.string().regex(DURATION, 'a duration')])
      .optional()
      .describe('vpn-only mode with PersistentKeepalive: how long to wait for the first handshake before starting the command (default 5s).'),
    ro: oneOrMany(Path, 'Paths bound read-only into the sandbox; relative ones are relative to this file.').optional(),
    rw: oneOrMany(Path, 'Paths bound read-write into the sandbox; relative ones are relative to this file.').optional(),
    env: oneOrMany(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(=[\s\S]*)?$/, 'NAME or NAME=VALUE'),
      'Environment variables passed beyond the default allowlist (PATH, HOME, USER, LANG, LC_*, TERM, TZ, …): NAME (its value here) or NAME=VALUE.',
    ).optional(),
    'env-all': z.boolean().optional().describe('Pass every environment variable, tokens and keys included (a warning says so).'),
    show: oneOrMany(Path, 'Secret paths hidden by default (~/.ssh, ~/.gitconfig, shell histories, …) to pass in after all; relative ones are relative to this file.').optional(),
    'allow-userns': z.boolean().optional().describe('Let the command create user namespaces (the seccomp filter refuses them by default).'),
    workdir: Path.optional().describe("A writable work dir and the command's cwd; relative to this file. Default: the current directory."),
    'host-netns': z.string().min(1).optional().describe("Filtered and vpn-only modes: the network namespace where the veth's host end and NAT go."),
    'dns-upstream': z.string().min(1).optional().describe("IP[:PORT] the sandbox's resolver asks about allowed names. Default: /etc/resolv.conf's first nameserver."),
    spec: Path.optional().describe('A cordon spec: allow/deny HOST[:PORT] stand for every address of that host; relative to this file.'),
    as: z.string().min(1).optional().describe("A host of the spec: run with that host's egress from the spec."),
    wireguard: Path.optional().describe('vpn-only mode: a wg-quick style WireGuard config; relative to this file.'),
    vault: z.string().min(1).optional().describe('A vault session (a name, not a path), decrypted into a RAM-only mount at /tmp/vault inside.'),
    'i-mean-the-host': z.boolean().optional().describe("Filtered mode: put the veth's host end and NAT in this machine's own network namespace."),
    events: Path.optional().describe('Append denied attempts to this file as JSON lines; relative to this file.'),
    json: z.boolean().optional().describe('Print a JSON summary on stdout at exit.'),
    'dry-run': z.boolean().optional().describe('Print the steps; change nothing.'),
    quiet: z.boolean().optional().describe('No summary on stderr.'),
    command: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .min(1)
      .optional()
      .describe('The command and its arguments, as a list: [python3, agent.py]. A command after -- on the command line replaces it.'),
  })
  .describe('A cordon run sandbox config: one key per `cordon run` flag, plus command.');

export type SandboxConfigInput = z.input<typeof SandboxConfigSchema>;

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
export function loadSandboxConfig(file: string): SandboxConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new ConfigError([diag('CORDON001', 'error', `cannot read sandbox config: ${why}`, { file })], undefined);
  }
  return parseSandboxConfig(text, file, dirname(resolve(file)));
}

/** As loadSandboxConfig, from text; relative paths resolve against `baseDir`. */
export function parseSandboxConfig(text: string, file = '<input>', baseDir = process.cwd()): SandboxConfig {
  const yaml = parseYamlText(text, file);
  if (!yaml.ok) throw new ConfigError(yaml.diagnostics, yaml.source);
  const { data, source } = yaml;
  const hint = 'e.g. `mode: filtered`, `allow: [api.example.com:443]`, `command: [python3, agent.py]`';
  if (data === null || data === undefined) {
    throw new ConfigError([diag('CORDON003', 'error', 'the sandbox config is empty: expected a mapping of cordon run options', { file, line: 1, col: 1 }, hint)], source);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([diag('CORDON003', 'error', `a sandbox config is a mapping of cordon run options, got ${describeValue(data)}`, source.pos([]), hint)], source);
  }
  const parsed = SandboxConfigSchema.safeParse(data);
  if (!parsed.success) {
    throw new ConfigError(sortDiagnostics(parsed.error.issues.flatMap((i) => issueToDiagnostics(i, source, data, []))), source);
  }
  return toFlags(parsed.data, baseDir);
}

type Parsed = z.output<typeof SandboxConfigSchema>;

function toFlags(c: Parsed, baseDir: string): SandboxConfig {
  const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const str = (v: string | number | boolean): string => String(v);
  const flags: ConfigFlags = {
    allow: list(c.allow),
    deny: list(c.deny),
    ro: list(c.ro).map(path),
    rw: list(c.rw).map(path),
    publish: list(c.publish).map(str),
    env: list(c.env),
    show: list(c.show).map(path),
  };
  if (c['env-all'] !== undefined) flags.envAll = c['env-all'];
  if (c['allow-userns'] !== undefined) flags.allowUserns = c['allow-userns'];
  if (c.mode !== undefined) flags.mode = c.mode;
  if (c.memory !== undefined) flags.memory = str(c.memory);
  if (c.cpus !== undefined) flags.cpus = str(c.cpus);
  if (c.pids !== undefined) flags.pids = str(c.pids);
  if (c.timeout !== undefined) flags.timeout = str(c.timeout);
  if (c['tunnel-wait'] !== undefined) flags.tunnelWait = str(c['tunnel-wait']);
  if (c.workdir !== undefined) flags.workdir = path(c.workdir);
  if (c['host-netns'] !== undefined) flags.hostNetns = c['host-netns'];
  if (c['dns-upstream'] !== undefined) flags.dnsUpstream = c['dns-upstream'];
  if (c.spec !== undefined) flags.spec = path(c.spec);
  if (c.as !== undefined) flags.as = c.as;
  if (c.wireguard !== undefined) flags.wireguard = path(c.wireguard);
  if (c.vault !== undefined) flags.vault = c.vault;
  if (c['i-mean-the-host'] !== undefined) flags.iMeanTheHost = c['i-mean-the-host'];
  if (c.events !== undefined) flags.events = path(c.events);
  if (c.json !== undefined) flags.json = c.json;
  if (c['dry-run'] !== undefined) flags.dryRun = c['dry-run'];
  if (c.quiet !== undefined) flags.quiet = c.quiet;
  return c.command !== undefined ? { flags, command: c.command.map(str) } : { flags };
}

/**
 * The file's flags overlaid with the command line's: a flag given explicitly on the command line
 * wins (`cliExplicit` holds the camelCase names of those, e.g. from commander's
 * `getOptionValueSource(name) === 'cli'`); list flags from both are concatenated, the file's first.
 */
export function mergeFlags<F extends Partial<ConfigFlags>>(fromFile: ConfigFlags, fromCli: F, cliExplicit: ReadonlySet<string>): ConfigFlags & F {
  const out: Record<string, unknown> = { ...fromFile };
  for (const [k, v] of Object.entries(fromCli)) {
    if ((LIST_FLAGS as readonly string[]).includes(k)) {
      out[k] = [...(fromFile[k as ListFlag] ?? []), ...((v as string[] | undefined) ?? [])];
    } else if (v !== undefined && (cliExplicit.has(k) || out[k] === undefined)) {
      // Explicit on the command line, or only the command line has it (a default): take it.
      out[k] = v;
    }
  }
  return out as unknown as ConfigFlags & F;
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
  for (; node; ) {
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
  const one = (message: string, hint: string | undefined = described, at = source.pos(path)): Diagnostic[] => [diag('CORDON003', 'error', message, at, hint)];

  if (issue.code === 'unrecognized_keys') {
    const allowed = Object.keys(SandboxConfigSchema.shape);
    return issue.keys.map((key) => {
      const near = closest(key, allowed) ?? closest(key.replace(/([a-z])([A-Z])/g, '$1-$2').replace(/_/g, '-'), allowed);
      const hint = near ? `did you mean '${near}'?` : `expected one of: ${allowed.join(', ')}`;
      const where = path.length ? ` in ${formatPath(path)}` : ' at the top level';
      return diag('CORDON003', 'error', `unknown field '${key}'${where}`, source.pos([...path, key], true), hint);
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

