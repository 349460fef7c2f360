/**
 * The schema of `cordon run`'s options (see config.ts): one key per CLI flag, plus `command:`.
 * Its output type, SandboxRequest, is what both a config file and the command line's flags are
 * read into. On its own so that config.ts (reads files) and request.ts (resolves a request) both
 * build on it without importing each other.
 */
import { z } from 'zod';
import { MODES } from './types.js';

/** Every network mode a config may name: the sandbox's own list. */
export const CONFIG_MODES = MODES;

// Mirrors of parseBytes / parseDuration in plan.ts, so the JSON Schema carries them as patterns.
const SIZE = /^\d+(\.\d+)?\s*[kmgtKMGT]?[bB]?$/;
const DURATION = /^\d+(\.\d+)?(ms|s|m|h)?$/;

const oneOrMany = <T extends z.ZodType>(item: T, what: string) => z.union([item, z.array(item)]).describe(what);

const Path = z.string().min(1).describe("A path; a relative one is relative to this file's directory.");
const NetEntry = z.string().min(1).describe('IP[/LEN][:PORT], DOMAIN[:PORT] (*.example.com for subdomains) or, with spec:, HOST[:PORT].');
const DenyEntry = z.string().min(1).describe('IP[/LEN][:PORT] or, with spec:, HOST[:PORT].');
const Port = z.union([z.number().int().min(1).max(65535), z.string().regex(/^\d{1,5}$/, 'a TCP port')]).describe('A TCP port, 1-65535.');

export const SandboxConfigSchema = z
  .strictObject({
    mode: z
      .enum(CONFIG_MODES)
      .optional()
      .describe(
        'The network: isolated (no network), filtered (only allow: destinations), vpn-only (only through wireguard:) or open. Default: vpn-only with wireguard:, filtered with allow:, else isolated.',
      ),
    allow: oneOrMany(
      NetEntry,
      'Filtered mode: destinations the sandbox may reach: IP[/LEN][:PORT[-PORT]][/tcp|/udp] (a port alone means tcp and udp), IP[/LEN]/icmp, DOMAIN[:PORT] (*.example.com for subdomains) or, with spec:, HOST[:PORT]. vpn-only mode: what may use the tunnel.',
    ).optional(),
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
    show: oneOrMany(
      Path,
      'Secret paths hidden by default (~/.ssh, ~/.gitconfig, shell histories, …) to pass in after all; relative ones are relative to this file.',
    ).optional(),
    'allow-userns': z.boolean().optional().describe('Let the command create user namespaces (the seccomp filter refuses them by default).'),
    workdir: Path.optional().describe("A writable work dir and the command's cwd; relative to this file. Default: the current directory."),
    'host-netns': z.string().min(1).optional().describe("Filtered and vpn-only modes: the network namespace where the veth's host end and NAT go."),
    'dns-upstream': z
      .string()
      .min(1)
      .optional()
      .describe("IP[:PORT] the sandbox's resolver asks about allowed names. Default: /etc/resolv.conf's first nameserver."),
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

/** What a config file (or a library caller's object) may say. */
export type SandboxConfigInput = z.input<typeof SandboxConfigSchema>;
/** `cordon run`'s options as given, by flags or by a file: the schema's output. */
export type SandboxRequest = z.output<typeof SandboxConfigSchema>;
