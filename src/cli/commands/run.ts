/**
 * `cordon run [options] -- CMD ARGS…`: CMD in its own network, mount, PID, IPC, UTS and user
 * namespaces with an nftables egress policy; exits with CMD's exit code (124 timeout, 137 memory).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { dryRunPlan, sandbox, SandboxError, type SandboxInput, type SandboxResult } from '../../sandbox/run.js';
import { MODES, parseBytes, parseDuration, parseNetRule, planToText, type NetRule, type SandboxMode } from '../../sandbox/plan.js';
import { parseDomainRule, type DomainRule } from '../../sandbox/dns.js';
import { parseEnvPass } from '../../sandbox/env.js';
import { specHostRules } from '../../sandbox/spec-hosts.js';
import { parseWgQuick, WgConfigError, type WgClient } from '../../sandbox/wireguard.js';
import type { Model } from '../../model/types.js';
import type { Ir } from '../../ir/types.js';
import type { ConfigFlags } from '../../sandbox/config.js';
import { EXIT, ExitError, printJson } from '../io.js';

/** The flags, as commander hands them over; the same shape a --config file is read into. */
type RunFlags = ConfigFlags & { config?: string };

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function rules(list: readonly string[], flag: string, model: Model | undefined): NetRule[] {
  return list.flatMap((t) => {
    const fromSpec = model ? specHostRules(model, t) : undefined;
    if (fromSpec) return fromSpec;
    const r = parseNetRule(t);
    if (typeof r === 'string') throw new ExitError(EXIT.invalid, `${flag}: ${r}`);
    return [r];
  });
}

async function toInput(cmd: readonly string[], f: RunFlags): Promise<SandboxInput> {
  let mode: SandboxMode | undefined;
  if (f.mode !== undefined) {
    if (!(MODES as readonly string[]).includes(f.mode)) throw new ExitError(EXIT.invalid, `--mode: unknown mode '${f.mode}' (valid: ${MODES.join(', ')})`);
    mode = f.mode as SandboxMode;
  }
  if (f.as !== undefined && f.spec === undefined) throw new ExitError(EXIT.invalid, '--as HOST needs --spec FILE (the spec that declares HOST)');
  // Loaded only when asked for: the spec parser is most of the CLI's start-up time.
  const ir = f.spec !== undefined ? (await import('../load.js')).loadIr(f.spec, { quietWarnings: true }) : undefined;
  const model = ir?.model;
  const fromSpec = ir !== undefined && f.as !== undefined ? await egressOf(ir, f.as) : undefined;
  if (fromSpec && !f.quiet && !f.json) {
    process.stderr.write(`cordon run: as ${fromSpec.host}: ${fromSpec.mode}, ${fromSpec.rules.length} allow rule${fromSpec.rules.length === 1 ? '' : 's'} from ${f.spec}\n`);
    for (const n of fromSpec.notes) process.stderr.write(`cordon run:   note: ${n}\n`);
  }
  if (fromSpec && mode === undefined) mode = fromSpec.mode;
  const domains: DomainRule[] = [];
  const addrs: string[] = [];
  for (const t of f.allow) {
    const d = typeof parseNetRule(t) === 'string' && !(model && specHostRules(model, t)) ? parseDomainRule(t) : undefined;
    if (d) domains.push(d);
    else addrs.push(t);
  }
  const allow = [...(fromSpec?.rules ?? []), ...rules(addrs, '--allow', model)];
  let wireguard: WgClient | undefined;
  if (f.wireguard !== undefined) {
    let text: string;
    try {
      text = readFileSync(f.wireguard, 'utf8');
    } catch (e) {
      throw new ExitError(EXIT.invalid, `--wireguard: cannot read ${f.wireguard}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      wireguard = parseWgQuick(text, f.wireguard);
    } catch (e) {
      if (e instanceof WgConfigError) throw new ExitError(EXIT.invalid, `--wireguard: ${e.message}`);
      throw e;
    }
  }
  if (mode === undefined) mode = wireguard !== undefined ? 'vpn-only' : allow.length + domains.length > 0 ? 'filtered' : 'isolated';
  if (allow.length + domains.length > 0 && mode !== 'filtered' && mode !== 'vpn-only') throw new ExitError(EXIT.invalid, `--allow needs --mode filtered or vpn-only (mode '${mode}' ignores an allowlist)`);
  const num = (v: string | undefined, flag: string, parse: (s: string) => number | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = parse(v);
    if (n === undefined || !Number.isFinite(n) || n <= 0) throw new ExitError(EXIT.invalid, `${flag}: cannot read '${v}'`);
    return n;
  };
  return {
    command: cmd,
    mode,
    allow,
    allowDomains: domains,
    ...(wireguard !== undefined ? { wireguard } : {}),
    ...(f.dnsUpstream !== undefined ? { dnsUpstream: f.dnsUpstream } : {}),
    deny: rules(f.deny, '--deny', model),
    publish: f.publish.map((p) => {
      if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new ExitError(EXIT.invalid, `--publish: '${p}' is not a TCP port (1-65535)`);
      return Number(p);
    }),
    memoryBytes: num(f.memory, '--memory', parseBytes),
    cpus: num(f.cpus, '--cpus', Number),
    pids: num(f.pids, '--pids', (s) => (/^\d+$/.test(s) ? Number(s) : undefined)),
    timeoutMs: num(f.timeout, '--timeout', parseDuration),
    ...(f.tunnelWait !== undefined ? { tunnelWaitMs: num(f.tunnelWait, '--tunnel-wait', parseDuration)! } : {}),
    ro: f.ro,
    rw: f.rw,
    env: (f.env ?? []).map((t) => {
      const e = parseEnvPass(t);
      if (typeof e === 'string') throw new ExitError(EXIT.invalid, `--env: ${e}`);
      return e;
    }),
    envAll: f.envAll === true,
    show: f.show ?? [],
    allowUserns: f.allowUserns === true,
    ...(f.workdir !== undefined ? { workdir: f.workdir } : {}),
    ...(f.hostNetns !== undefined ? { hostNetns: f.hostNetns } : {}),
    iMeanTheHost: f.iMeanTheHost === true,
    ...(f.vault !== undefined ? { vault: { session: f.vault } } : {}),
  };
}

/** `--as HOST`: what the spec lets HOST reach, as sandbox allow rules (the verifier, loaded only here). */
async function egressOf(ir: Ir, host: string): Promise<{ host: string; mode: SandboxMode; rules: NetRule[]; notes: readonly string[] }> {
  const { specEgress } = await import('../../sandbox/from-spec.js');
  let e;
  try {
    e = specEgress(ir, host);
  } catch (err) {
    throw new ExitError(EXIT.invalid, `--as: ${(err as Error).message}`);
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

function summary(r: SandboxResult): string {
  const lines = [`cordon run: ${r.message} · out ${r.counters.packetsOut} pkt/${r.counters.bytesOut} B · in ${r.counters.packetsIn} pkt/${r.counters.bytesIn} B`];
  lines.push(`cordon run: env: ${r.env.passed} passed, ${r.env.withheld} withheld${r.env.withheld > 0 ? ' (--env NAME passes one)' : ''} · ${r.hidden} secret path${r.hidden === 1 ? '' : 's'} hidden`);
  for (const p of r.tunnel?.peers ?? []) {
    lines.push(
      `cordon run: tunnel to ${p.endpoint || '?'}: ${p.latestHandshake !== undefined ? `up (last handshake ${p.latestHandshake}) · in ${p.rxBytes} B · out ${p.txBytes} B` : 'never came up — nothing went through it, and nothing went around it (fail-closed)'}`,
    );
  }
  if (r.denied.length > 0) {
    lines.push(`cordon run: ${r.denied.length} denied destination${r.denied.length === 1 ? '' : 's'}:`);
    for (const d of r.denied) lines.push(`  ✗ ${d.proto} ${d.destination}${d.port !== undefined ? `:${d.port}` : ''} (${d.packets} packets, ${d.bytes} bytes)`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a command in a sandbox: its own network namespace with an nftables egress policy, read-only root, limits')
    .argument('[cmd...]', 'the command and its arguments (after --); may come from --config instead')
    .option('--config <file>', 'read these options (and command:) from a YAML file; flags given here win, list flags add up (examples/sandbox/agent.yaml)')
    .option('--mode <mode>', `network: ${MODES.join(' | ')} (default isolated, or filtered when --allow is given)`)
    .option('--allow <dest>', 'filtered mode: allow IP[/LEN][:PORT[-PORT]][/tcp|/udp], DOMAIN[:PORT] (*.example.com for subdomains) or, with --spec, HOST[:PORT]; a port without /tcp or /udp means both; vpn-only mode: limit what goes through the tunnel; repeatable', collect, [])
    .option('--spec <file>', 'a cordon spec: --allow/--deny HOST[:PORT] stand for every address of that host')
    .option('--as <host>', "with --spec: the sandbox gets HOST's egress from the spec — what the verifier says HOST may reach becomes the allowlist, and the mode follows HOST's (isolated, filtered, vpn-only)")
    .option('--wireguard <file>', 'vpn-only mode (implied): a wg-quick client config; all traffic goes through this tunnel, nothing else leaves, also when the tunnel is down')
    .option('--tunnel-wait <duration>', 'vpn-only mode with PersistentKeepalive: wait this long for the first handshake before starting the command (default 5s)')
    .option('--dns-upstream <ip[:port]>', 'where the sandbox\'s resolver asks about allowed names (default: /etc/resolv.conf\'s first nameserver)')
    .option('--deny <ip[/len][:port]>', 'deny this destination, ahead of the allowlist (repeatable)', collect, [])
    .option('--publish <port>', "filtered mode: make the sandbox's TCP PORT reachable on the host namespace's 127.0.0.1:PORT (repeatable)", collect, [])
    .option('--vault <session>', 'decrypt this vault session into a RAM-only mount, read-only at /tmp/vault ($CORDON_VAULT) inside')
    .option('--memory <size>', 'memory limit (512m, 1g); exceeding it kills the command: exit 137')
    .option('--cpus <n>', 'CPU limit, in CPUs (0.5)')
    .option('--pids <n>', 'at most N processes and threads')
    .option('--timeout <duration>', 'wall-clock limit (30s, 500ms, 2m); exceeding it: exit 124')
    .option('--ro <path>', 'bind PATH read-only (repeatable); not / nor a system directory (the root is already visible read-only)', collect, [])
    .option('--rw <path>', 'bind PATH read-write (repeatable); not / nor a system directory (/etc, /usr, /var, …): writable paths are the work dir or directories outside the system tree', collect, [])
    .option('--env <name[=value]>', 'pass this environment variable (its value here, or VALUE) beyond the default PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TERM, TZ (repeatable)', collect, [])
    .option('--env-all', 'pass the whole environment, tokens and keys included (a warning says so)')
    .option('--show <path>', 'pass in a path the sandbox hides by default (~/.gitconfig, ~/.ssh, …); cordon\'s own state can never be (repeatable)', collect, [])
    .option('--allow-userns', 'let the command create user namespaces (the seccomp filter refuses them by default)')
    .option('--workdir <dir>', 'writable work dir and the command\'s cwd (default: the current directory)')
    .option('--host-netns <ns>', 'filtered mode: the namespace where the veth\'s host end and NAT go (required unless --i-mean-the-host)')
    .option('--i-mean-the-host', "filtered mode: put the veth's host end and NAT in this machine's own network namespace")
    .option('--events <file>', 'append denied attempts as JSON lines (time, destination, proto, port, rule, packets, bytes)')
    .option('--json', 'print a JSON summary (exit code, reason, counters, denied) on stdout at exit')
    .option('--dry-run', 'print the steps; change nothing')
    .option('-q, --quiet', 'no summary on stderr')
    .addHelpText(
      'after',
      `
Exit code: the command's own; 124 when --timeout killed it; 137 when --memory did (the reason is printed).
The root is read-only. Hidden: cordon's own state (vault, keys, snapshots, lab and sandbox state: always),
/etc/shadow, host keys, control sockets (/run/user, /run/dbus, docker, …) and per home shell histories and
credential stores (~/.ssh, ~/.aws, ~/.gitconfig, ~/.docker, ~/.kube, ~/.npmrc, browser profiles, …): --show
PATH passes one back. Only PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TERM, TZ pass from the environment
(--env NAME for more). A seccomp filter refuses ptrace, kexec, module loading, keyctl, bpf, perf_event_open,
mount, setns and new user namespaces (--allow-userns). The command dies with cordon (kill -9 included).

Examples:
  cordon run -- curl -sS https://example.com            # isolated: fails, the attempt is reported
  cordon run --host-netns lab --allow 198.51.100.10:443 -- ./agent
  cordon run --host-netns lab --allow api.openai.com:443 --allow '*.pypi.org:443' -- pip install x
  cordon run --spec examples/proxmox-dual-bridge.yaml --host-netns lab --allow ollama:11434 -- ./agent
  cordon run --memory 512m --pids 64 --timeout 30s -- python3 job.py
  cordon run --dry-run --mode filtered --host-netns lab --allow 10.0.0.0/8:11434 -- true
  cordon run --spec examples/proxmox-dual-bridge.yaml --as agentfarm --host-netns lab -- ./agent
  cordon run --host-netns lab --wireguard wg0.conf -- ./agent   # vpn-only: the tunnel or nothing
  cordon run --config examples/sandbox/agent.yaml --dry-run`,
    )
    .action(async (cliCmd: string[], cliFlags: RunFlags, self: Command) => {
      let f = cliFlags;
      let cmd = cliCmd;
      if (cliFlags.config !== undefined) {
        // Loaded only when asked for (zod, yaml).
        const { loadSandboxConfig, mergeFlags, ConfigError } = await import('../../sandbox/config.js');
        let c;
        try {
          c = loadSandboxConfig(cliFlags.config);
        } catch (e) {
          if (e instanceof ConfigError) throw new ExitError(EXIT.invalid, `--config:\n${e.message}`);
          throw e;
        }
        const explicit = new Set(Object.keys(cliFlags).filter((k) => self.getOptionValueSource(k) === 'cli'));
        f = mergeFlags(c.flags, cliFlags, explicit);
        if (cmd.length === 0 && c.command !== undefined) cmd = c.command;
      }
      if (cmd.length === 0) throw new ExitError(EXIT.invalid, 'no command given: cordon run [options] -- CMD ARGS… (or command: in --config)');
      const input = await toInput(cmd, f);
      if (f.dryRun) {
        try {
          process.stdout.write(planToText(dryRunPlan(input)));
        } catch (e) {
          if (e instanceof SandboxError) throw new ExitError(EXIT.invalid, e.message);
          throw e;
        }
        return;
      }
      // The library says it through `say`, which -q and --json silence; this warning they do not.
      if (f.envAll === true && (f.quiet || f.json)) process.stderr.write('cordon run: --env-all: the whole environment passes into the sandbox, tokens and keys in it included\n');
      let r: SandboxResult;
      try {
        r = await sandbox({ ...input, ...(f.quiet || f.json ? {} : { say: (l: string) => process.stderr.write(`cordon run: ${l}\n`) }) });
      } catch (e) {
        if (e instanceof SandboxError) throw new ExitError(EXIT.invalid, e.message);
        throw e;
      }
      if (f.events !== undefined && r.denied.length > 0) appendFileSync(f.events, r.denied.map((d) => `${JSON.stringify(d)}\n`).join(''));
      if (f.json) printJson({ exitCode: r.exitCode, reason: r.reason, message: r.message, counters: r.counters, denied: r.denied, ...(r.tunnel ? { tunnel: r.tunnel } : {}), env: r.env, hidden: r.hidden, id: r.id, ms: Math.round(r.ms) });
      else if (!f.quiet) process.stderr.write(summary(r));
      process.exitCode = r.exitCode;
    });
}
