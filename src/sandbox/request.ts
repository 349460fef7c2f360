/**
 * `cordon run`'s options as given — by flags or by a config file, in one shape (SandboxRequest,
 * the output type of config.ts's described zod schema) — turned into a SandboxInput: the spec
 * loaded and `--as HOST`'s egress taken from it, `HOST[:PORT]` expanded, names told apart from
 * addresses, the WireGuard file read, sizes and durations read. The CLI and a library caller go
 * through this same function, so both get the same sandbox from the same options; the defaults
 * themselves are decided later, in one place (options.ts).
 *
 * No zod at run time here (the CLI's start-up): flags arrive as commander's strings, a file's
 * values were checked by the schema (config.ts); every value's meaning is checked below, with
 * messages naming the flag.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Diagnostic } from '../diag/diagnostic.js';
import type { Ir } from '../ir/types.js';
import type { Model } from '../model/types.js';
import type { SourceMap } from '../spec/parse.js';
import type { SandboxRequest } from './schema.js';
import { parseDomainRule, type DomainRule } from './dns.js';
import { parseEnvPass } from './env.js';
import { specHostRules } from './spec-hosts.js';
import { MODES, SandboxError, type NetRule, type SandboxInput, type SandboxMode } from './types.js';
import { parseBytes, parseDuration, parseNetRule } from './values.js';
import { parseWgQuick, WgConfigError, type WgClient } from './wireguard.js';

export type { SandboxRequest } from './schema.js';

/** The list options: repeatable flags, a YAML list (or one value) in a file; from two sources they add up. */
export const LIST_KEYS = ['allow', 'deny', 'ro', 'rw', 'publish', 'env', 'show'] as const;
/** The options that name files or directories: relative ones are relative to where the request came from. */
const PATH_KEYS = ['ro', 'rw', 'show', 'workdir', 'spec', 'wireguard', 'events'] as const;

/** The spec named by `spec:` does not load: its diagnostics, for the caller to print with code frames. */
export class SpecLoadError extends SandboxError {
  constructor(
    readonly file: string,
    readonly diagnostics: readonly Diagnostic[],
    readonly source: SourceMap | undefined,
  ) {
    const n = diagnostics.filter((d) => d.severity === 'error').length;
    super(`${file}: ${n} error${n === 1 ? '' : 's'}`);
    this.name = 'SpecLoadError';
  }
}

/** What resolveRequest gives: the sandbox's input and notes worth telling the user (from `--as`). */
export interface ResolvedRequest {
  readonly input: SandboxInput;
  /** Lines such as `as agentfarm: filtered, 3 allow rules from spec.yaml` (the CLI prints them unless -q/--json). */
  readonly notes: readonly string[];
}

const list = <T>(v: T | readonly T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? [...(v as readonly T[])] : [v as T]);

/**
 * The request with every list a list and, given `baseDir` (a config file's directory), every
 * relative path made absolute against it; without one, paths stay as given (relative to the
 * current directory, as flags are).
 */
export function normalizeRequest(r: SandboxRequest, baseDir?: string): SandboxRequest {
  const abs = (p: string): string => (baseDir === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
  for (const k of LIST_KEYS) out[k] = list(r[k] as string | readonly string[] | undefined);
  for (const k of PATH_KEYS) {
    const v = out[k];
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map((p: string) => abs(p)) : abs(v as string);
  }
  if (r.command !== undefined) out.command = r.command.map(String);
  return out;
}

/**
 * A file's request overlaid with the command line's: a value the command line gives wins; lists
 * from both add up, the file's first. Neither input is changed.
 */
export function mergeRequests(fromFile: SandboxRequest, fromCli: SandboxRequest): SandboxRequest {
  const out: Record<string, unknown> = { ...fromFile };
  for (const [k, v] of Object.entries(fromCli)) {
    if (v === undefined) continue;
    if ((LIST_KEYS as readonly string[]).includes(k))
      out[k] = [...list(fromFile[k as (typeof LIST_KEYS)[number]] as readonly unknown[] | undefined), ...list(v as readonly unknown[])];
    else if (k === 'command' && (v as unknown[]).length === 0) continue;
    else out[k] = v;
  }
  return out;
}

/** Loads and compiles the spec (loaded only when a request names one: the parser is most of the start-up). */
async function loadSpec(file: string): Promise<Ir> {
  const [{ loadModel }, { compile }] = await Promise.all([import('../model/load.js'), import('../ir/compile.js')]);
  const r = loadModel(file);
  if (!r.model)
    throw new SpecLoadError(
      file,
      r.diagnostics.filter((d) => d.severity === 'error'),
      r.source,
    );
  return compile(r.model);
}

/** `--as HOST`: what the spec lets HOST reach, as sandbox allow rules (the verifier, loaded only here). */
async function egressOf(ir: Ir, host: string): Promise<{ host: string; mode: SandboxMode; rules: NetRule[]; notes: readonly string[] }> {
  const { specEgress } = await import('./from-spec.js');
  let e;
  try {
    e = specEgress(ir, host);
  } catch (err) {
    throw new SandboxError(`--as: ${(err as Error).message}`);
  }
  const rules: NetRule[] = e.rules.map((r) => ({
    cidr: r.cidr,
    port: r.ports?.lo,
    ...(r.ports !== undefined && r.ports.hi !== r.ports.lo ? { portHi: r.ports.hi } : {}),
    ...(r.proto !== 'any' ? { proto: r.proto } : {}),
    text: r.text,
  }));
  return { host: e.host, mode: e.mode, rules, notes: e.notes };
}

function rules(entries: readonly string[], flag: string, model: Model | undefined): NetRule[] {
  return entries.flatMap((t) => {
    const fromSpec = model ? specHostRules(model, t) : undefined;
    if (fromSpec) return fromSpec;
    const r = parseNetRule(t);
    if (typeof r === 'string') throw new SandboxError(`${flag}: ${r}`);
    return [r];
  });
}

function readWireguard(file: string): WgClient {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SandboxError(`--wireguard: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return parseWgQuick(text, file);
  } catch (e) {
    if (e instanceof WgConfigError) throw new SandboxError(`--wireguard: ${e.message}`);
    throw e;
  }
}

/** A positive number from a flag's text (or a file's number); undefined when not given. */
function positive(v: string | number | undefined, flag: string, parse: (s: string) => number | undefined): number | undefined {
  if (v === undefined) return undefined;
  // A file's number reads as the flag's text would: seconds for a duration, bytes for a size.
  const n = parse(String(v));
  if (n === undefined || !Number.isFinite(n) || n <= 0) throw new SandboxError(`${flag}: cannot read '${v}'`);
  return n;
}

/**
 * A request (normalizeRequest'ed: lists as lists, paths absolute) → the sandbox's input. Throws
 * SandboxError naming the flag when a value means nothing, SpecLoadError when the spec is broken.
 * `command` (after `--` on the command line) replaces the request's own.
 */
export async function resolveRequest(r: SandboxRequest, command?: readonly string[]): Promise<ResolvedRequest> {
  const cmd = command !== undefined && command.length > 0 ? [...command] : (r.command ?? []).map(String);
  if (cmd.length === 0) throw new SandboxError('no command given: cordon run [options] -- CMD ARGS… (or command: in --config)');
  let mode: SandboxMode | undefined;
  if (r.mode !== undefined) {
    if (!(MODES as readonly string[]).includes(r.mode)) throw new SandboxError(`--mode: unknown mode '${r.mode}' (valid: ${MODES.join(', ')})`);
    mode = r.mode;
  }
  if (r.as !== undefined && r.spec === undefined) throw new SandboxError('--as HOST needs --spec FILE (the spec that declares HOST)');
  const ir = r.spec !== undefined ? await loadSpec(r.spec) : undefined;
  const model = ir?.model;
  const fromSpec = ir !== undefined && r.as !== undefined ? await egressOf(ir, r.as) : undefined;
  const notes: string[] = [];
  if (fromSpec) {
    notes.push(`as ${fromSpec.host}: ${fromSpec.mode}, ${fromSpec.rules.length} allow rule${fromSpec.rules.length === 1 ? '' : 's'} from ${r.spec}`);
    for (const n of fromSpec.notes) notes.push(`  note: ${n}`);
  }
  // The spec's mode for HOST is a value, not a default: the defaults are options.ts's.
  if (fromSpec && mode === undefined) mode = fromSpec.mode;
  const domains: DomainRule[] = [];
  const addrs: string[] = [];
  for (const t of list(r.allow)) {
    const d = typeof parseNetRule(t) === 'string' && !(model && specHostRules(model, t)) ? parseDomainRule(t) : undefined;
    if (d) domains.push(d);
    else addrs.push(t);
  }
  const allow = [...(fromSpec?.rules ?? []), ...rules(addrs, '--allow', model)];
  const wireguard = r.wireguard !== undefined ? readWireguard(r.wireguard) : undefined;
  const tunnelWaitMs = positive(r['tunnel-wait'], '--tunnel-wait', parseDuration);
  const input: SandboxInput = {
    command: cmd,
    ...(mode !== undefined ? { mode } : {}),
    allow,
    allowDomains: domains,
    ...(wireguard !== undefined ? { wireguard } : {}),
    ...(r['dns-upstream'] !== undefined ? { dnsUpstream: r['dns-upstream'] } : {}),
    deny: rules(list(r.deny), '--deny', model),
    publish: list(r.publish).map((p) => {
      const s = String(p);
      if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw new SandboxError(`--publish: '${s}' is not a TCP port (1-65535)`);
      return Number(s);
    }),
    memoryBytes: positive(r.memory, '--memory', parseBytes),
    cpus: positive(r.cpus, '--cpus', Number),
    pids: positive(r.pids, '--pids', (s) => (/^\d+$/.test(s) ? Number(s) : undefined)),
    timeoutMs: positive(r.timeout, '--timeout', parseDuration),
    ...(tunnelWaitMs !== undefined ? { tunnelWaitMs } : {}),
    ro: list(r.ro),
    rw: list(r.rw),
    env: list(r.env).map((t) => {
      const e = parseEnvPass(t);
      if (typeof e === 'string') throw new SandboxError(`--env: ${e}`);
      return e;
    }),
    envAll: r['env-all'] === true,
    show: list(r.show),
    allowUserns: r['allow-userns'] === true,
    ...(r.workdir !== undefined ? { workdir: r.workdir } : {}),
    ...(r['host-netns'] !== undefined ? { hostNetns: r['host-netns'] } : {}),
    iMeanTheHost: r['i-mean-the-host'] === true,
    ...(r.vault !== undefined ? { vault: { session: r.vault } } : {}),
  };
  return { input, notes };
}
