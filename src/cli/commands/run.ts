/**
 * `cordon run [options] -- CMD ARGS…`: CMD in its own network, mount, PID, IPC, UTS and user
 * namespaces with an nftables egress policy; exits with CMD's exit code (124 timeout, 137 memory).
 */
import { appendFileSync } from 'node:fs';
import type { Command } from 'commander';
import { dryRunPlan, sandbox, SandboxError, SandboxInterrupted, type SandboxInput, type SandboxResult } from '../../sandbox/run.js';
import { MODES, planToText } from '../../sandbox/plan.js';
import { mergeRequests, normalizeRequest, resolveRequest, SpecLoadError, type ResolvedRequest, type SandboxRequest } from '../../sandbox/request.js';
import { EXIT, ExitError, printJson } from '../io.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** commander's camelCase option name → the request's key (the flag without its dashes). */
const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * commander's flags → the request a config file is read into too: list flags as given, a single
 * value only when it came from the command line (commander's defaults never override a file).
 */
function cliRequest(flags: Record<string, unknown>, given: (name: string) => boolean): SandboxRequest {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) {
    if (k === 'config' || v === undefined) continue;
    if (Array.isArray(v) || given(k)) out[kebab(k)] = v;
  }
  return normalizeRequest(out);
}

/**
 * The command line → the sandbox's input: flags (and --config's file) → one request →
 * resolveRequest, the library's own path. Bad input is an ExitError (exit 2).
 */
async function fromCommandLine(
  cmd: readonly string[],
  flags: Record<string, unknown> & { config?: string },
  self: Command,
): Promise<{ request: SandboxRequest; resolved: ResolvedRequest }> {
  let request = cliRequest(flags, (k) => self.getOptionValueSource(k) === 'cli');
  if (flags.config !== undefined) {
    // Loaded only when asked for (zod, yaml).
    const { loadSandboxConfig, ConfigError } = await import('../../sandbox/config.js');
    let file: SandboxRequest;
    try {
      file = loadSandboxConfig(flags.config);
    } catch (e) {
      if (e instanceof ConfigError) throw new ExitError(EXIT.invalid, `--config:\n${e.message}`);
      throw e;
    }
    request = mergeRequests(file, request);
  }
  try {
    return { request, resolved: await resolveRequest(request, cmd) };
  } catch (e) {
    if (e instanceof SpecLoadError) {
      const { printDiagnostics } = await import('../load.js');
      printDiagnostics(e.diagnostics, e.source);
    }
    if (e instanceof SandboxError) throw new ExitError(EXIT.invalid, e.message);
    throw e;
  }
}

/**
 * What `cordon run ARGV…` would hand to sandbox(), through the command's own flag definitions
 * and code path, without running anything: for tests that hold the CLI and the library to the
 * same sandbox.
 */
export async function commandLineInput(argv: readonly string[]): Promise<ResolvedRequest> {
  const { Command } = await import('commander');
  const program = new Command().exitOverride();
  registerRun(program);
  let out: ResolvedRequest | undefined;
  program.commands
    .find((c) => c.name() === 'run')!
    .action(async (cmd: string[], flags: Record<string, unknown>, self: Command) => {
      out = (await fromCommandLine(cmd, flags, self)).resolved;
    });
  await program.parseAsync(['run', ...argv], { from: 'user' });
  return out!;
}

/** The summary on stderr. Open mode uses the host's network, where cordon has no counters: it says so instead of printing zeros. */
export function summary(r: SandboxResult, mode: SandboxInput['mode']): string {
  const traffic =
    mode === 'open'
      ? 'traffic not counted in open mode (the host network)'
      : `out ${r.counters.packetsOut} pkt/${r.counters.bytesOut} B · in ${r.counters.packetsIn} pkt/${r.counters.bytesIn} B`;
  const lines = [`cordon run: ${r.message} · ${traffic}`];
  lines.push(
    `cordon run: env: ${r.env.passed} passed, ${r.env.withheld} withheld${r.env.withheld > 0 ? ' (--env NAME passes one)' : ''} · ${r.hidden} secret path${r.hidden === 1 ? '' : 's'} hidden`,
  );
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
    .option('--mode <mode>', `network: ${MODES.join(' | ')} (default: vpn-only with --wireguard, filtered with --allow, else isolated)`)
    .option(
      '--allow <dest>',
      'filtered mode: allow IP[/LEN][:PORT[-PORT]][/tcp|/udp], DOMAIN[:PORT] (*.example.com for subdomains) or, with --spec, HOST[:PORT]; a port without /tcp or /udp means both; vpn-only mode: limit what goes through the tunnel; repeatable',
      collect,
      [],
    )
    .option('--spec <file>', 'a cordon spec: --allow/--deny HOST[:PORT] stand for every address of that host')
    .option(
      '--as <host>',
      "with --spec: the sandbox gets HOST's egress from the spec — what the verifier says HOST may reach becomes the allowlist, and the mode follows HOST's (isolated, filtered, vpn-only)",
    )
    .option(
      '--wireguard <file>',
      'vpn-only mode (implied): a wg-quick client config; all traffic goes through this tunnel, nothing else leaves, also when the tunnel is down',
    )
    .option(
      '--tunnel-wait <duration>',
      'vpn-only mode with PersistentKeepalive: wait this long for the first handshake before starting the command (default 5s)',
    )
    .option('--dns-upstream <ip[:port]>', "where the sandbox's resolver asks about allowed names (default: /etc/resolv.conf's first nameserver)")
    .option('--deny <ip[/len][:port]>', 'deny this destination, ahead of the allowlist (repeatable)', collect, [])
    .option('--publish <port>', "filtered mode: make the sandbox's TCP PORT reachable on the host namespace's 127.0.0.1:PORT (repeatable)", collect, [])
    .option('--vault <session>', 'decrypt this vault session into a RAM-only mount, read-only at /tmp/vault ($CORDON_VAULT) inside')
    .option('--memory <size>', 'memory limit (512m, 1g); exceeding it kills the command: exit 137')
    .option('--cpus <n>', 'CPU limit, in CPUs (0.5)')
    .option('--pids <n>', 'at most N processes and threads')
    .option('--timeout <duration>', 'wall-clock limit (30s, 500ms, 2m); exceeding it: exit 124')
    .option('--ro <path>', 'bind PATH read-only (repeatable); not / nor a system directory (the root is already visible read-only)', collect, [])
    .option(
      '--rw <path>',
      'bind PATH read-write (repeatable); not / nor a system directory (/etc, /usr, /var, …): writable paths are the work dir or directories outside the system tree',
      collect,
      [],
    )
    .option(
      '--env <name[=value]>',
      'pass this environment variable (its value here, or VALUE) beyond the default PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TERM, TZ (repeatable)',
      collect,
      [],
    )
    .option('--env-all', 'pass the whole environment, tokens and keys included (a warning says so)')
    .option('--show <path>', "pass in a path the sandbox hides by default (~/.gitconfig, ~/.ssh, …); cordon's own state can never be (repeatable)", collect, [])
    .option('--allow-userns', 'let the command create user namespaces (the seccomp filter refuses them by default)')
    .option('--workdir <dir>', "writable work dir and the command's cwd (default: the current directory)")
    .option('--host-netns <ns>', "as root, filtered and vpn-only modes: the namespace where the veth's host end and NAT go (required unless --i-mean-the-host)")
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

As an ordinary user (rootless: a user + network namespace per run, pasta to your network; nothing
on the machine changes): every mode, no --host-netns. As root: --host-netns NS (veth + NAT).

Examples:
  cordon run --allow api.anthropic.com:443 --allow 192.168.1.20:11434 -- ./agent   # rootless, filtered
  cordon run --wireguard ~/vpn/wg0.conf -- ./agent      # rootless, vpn-only: the tunnel or nothing
  cordon run --spec site.yaml --as agent-1 -- ./agent   # rootless, the spec's egress for that host
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
    .action(async (cmd: string[], flags: Record<string, unknown> & { config?: string }, self: Command) => {
      const { request: f, resolved } = await fromCommandLine(cmd, flags, self);
      const { input } = resolved;
      if (!f.quiet && !f.json) for (const n of resolved.notes) process.stderr.write(`cordon run: ${n}\n`);
      if (f['dry-run']) {
        try {
          process.stdout.write(planToText(dryRunPlan(input)));
        } catch (e) {
          if (e instanceof SandboxError) throw new ExitError(EXIT.invalid, e.message);
          throw e;
        }
        return;
      }
      // The library says it through `say`, which -q and --json silence; this warning they do not.
      if (f['env-all'] === true && (f.quiet || f.json))
        process.stderr.write('cordon run: --env-all: the whole environment passes into the sandbox, tokens and keys in it included\n');
      let r: SandboxResult;
      try {
        r = await sandbox({ ...input, ...(f.quiet || f.json ? {} : { say: (l: string) => process.stderr.write(`cordon run: ${l}\n`) }) });
      } catch (e) {
        // Torn down already: the interrupt only becomes the exit code here.
        if (e instanceof SandboxInterrupted) {
          process.stderr.write(`\ncordon run: ${e.signal}: sandbox ${e.id} removed\n`);
          throw new ExitError(130);
        }
        if (e instanceof SandboxError) throw new ExitError(EXIT.invalid, e.message);
        throw e;
      }
      if (f.events !== undefined && r.denied.length > 0) appendFileSync(f.events, r.denied.map((d) => `${JSON.stringify(d)}\n`).join(''));
      if (f.json)
        printJson({
          exitCode: r.exitCode,
          reason: r.reason,
          message: r.message,
          counters: r.counters,
          denied: r.denied,
          ...(r.tunnel ? { tunnel: r.tunnel } : {}),
          env: r.env,
          hidden: r.hidden,
          id: r.id,
          ms: Math.round(r.ms),
        });
      else if (!f.quiet) process.stderr.write(summary(r, input.mode));
      process.exitCode = r.exitCode;
    });
}
