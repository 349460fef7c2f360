/**
 * `cordon run [options] -- CMD ARGS…`: CMD in its own network, mount, PID, IPC, UTS and user
 * namespaces with an nftables egress policy; exits with CMD's exit code (124 timeout, 137 memory).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { dryRunPlan, sandbox, SandboxError, type SandboxInput, type SandboxResult } from '../../sandbox/run.js';
import { MODES, parseBytes, parseDuration, parseNetRule, planToText, type NetRule, type SandboxMode } from '../../sandbox/plan.js';
import { parseDomainRule, type DomainRule } from '../../sandbox/dns.js';
import { specHostRules } from '../../sandbox/spec-hosts.js';
import { parseWgQuick, WgConfigError, type WgClient } from '../../sandbox/wireguard.js';
import type { Model } from '../../model/types.js';
import { EXIT, ExitError, printJson } from '../io.js';

interface RunFlags {
  mode?: string;
  allow: string[];
  deny: string[];
  memory?: string;
  cpus?: string;
  pids?: string;
  timeout?: string;
  ro: string[];
  rw: string[];
  workdir?: string;
  hostNetns?: string;
  dnsUpstream?: string;
  publish: string[];
  spec?: string;
  wireguard?: string;
  vault?: string;
  iMeanTheHost?: boolean;
  events?: string;
  json?: boolean;
  dryRun?: boolean;
  quiet?: boolean;
}

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
  // Loaded only when asked for: the spec parser is most of the CLI's start-up time.
  const model = f.spec !== undefined ? (await import('../load.js')).loadIr(f.spec, { quietWarnings: true }).model : undefined;
  const domains: DomainRule[] = [];
  const addrs: string[] = [];
  for (const t of f.allow) {
    const d = typeof parseNetRule(t) === 'string' && !(model && specHostRules(model, t)) ? parseDomainRule(t) : undefined;
    if (d) domains.push(d);
    else addrs.push(t);
  }
  const allow = rules(addrs, '--allow', model);
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
    ro: f.ro,
    rw: f.rw,
    ...(f.workdir !== undefined ? { workdir: f.workdir } : {}),
    ...(f.hostNetns !== undefined ? { hostNetns: f.hostNetns } : {}),
    iMeanTheHost: f.iMeanTheHost === true,
    ...(f.vault !== undefined ? { vault: { session: f.vault } } : {}),
  };
}

function summary(r: SandboxResult): string {
  const lines = [`cordon run: ${r.message} · out ${r.counters.packetsOut} pkt/${r.counters.bytesOut} B · in ${r.counters.packetsIn} pkt/${r.counters.bytesIn} B`];
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
    .argument('<cmd...>', 'the command and its arguments (after --)')
    .option('--mode <mode>', `network: ${MODES.join(' | ')} (default isolated, or filtered when --allow is given)`)
    .option('--allow <dest>', 'filtered mode: allow IP[/LEN][:PORT[-PORT]][/tcp|/udp], DOMAIN[:PORT] (*.example.com for subdomains) or, with --spec, HOST[:PORT]; a port without /tcp or /udp means both; vpn-only mode: limit what goes through the tunnel; repeatable', collect, [])
    .option('--spec <file>', 'a cordon spec: --allow/--deny HOST[:PORT] stand for every address of that host')
    .option('--wireguard <file>', 'vpn-only mode (implied): a wg-quick client config; all traffic goes through this tunnel, nothing else leaves, also when the tunnel is down')
    .option('--dns-upstream <ip[:port]>', 'where the sandbox\'s resolver asks about allowed names (default: /etc/resolv.conf\'s first nameserver)')
    .option('--deny <ip[/len][:port]>', 'deny this destination, ahead of the allowlist (repeatable)', collect, [])
    .option('--publish <port>', "filtered mode: make the sandbox's TCP PORT reachable on the host namespace's 127.0.0.1:PORT (repeatable)", collect, [])
    .option('--vault <session>', 'decrypt this vault session into a RAM-only mount, read-only at /tmp/vault ($CORDON_VAULT) inside')
    .option('--memory <size>', 'memory limit (512m, 1g); exceeding it kills the command: exit 137')
    .option('--cpus <n>', 'CPU limit, in CPUs (0.5)')
    .option('--pids <n>', 'at most N processes and threads')
    .option('--timeout <duration>', 'wall-clock limit (30s, 500ms, 2m); exceeding it: exit 124')
    .option('--ro <path>', 'bind PATH read-only (repeatable)', collect, [])
    .option('--rw <path>', 'bind PATH read-write (repeatable)', collect, [])
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
Secrets (~/.ssh, ~/.aws, ~/.gnupg, ~/.kube, ~/.docker, ~/.netrc, …) are hidden; the root is read-only.

Examples:
  cordon run -- curl -sS https://example.com            # isolated: fails, the attempt is reported
  cordon run --host-netns lab --allow 198.51.100.10:443 -- ./agent
  cordon run --host-netns lab --allow api.openai.com:443 --allow '*.pypi.org:443' -- pip install x
  cordon run --spec examples/proxmox-dual-bridge.yaml --host-netns lab --allow ollama:11434 -- ./agent
  cordon run --memory 512m --pids 64 --timeout 30s -- python3 job.py
  cordon run --dry-run --mode filtered --host-netns lab --allow 10.0.0.0/8:11434 -- true`,
    )
    .action(async (cmd: string[], f: RunFlags) => {
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
      let r: SandboxResult;
      try {
        r = await sandbox({ ...input, ...(f.quiet || f.json ? {} : { say: (l: string) => process.stderr.write(`cordon run: ${l}\n`) }) });
      } catch (e) {
        if (e instanceof SandboxError) throw new ExitError(EXIT.invalid, e.message);
        throw e;
      }
      if (f.events !== undefined && r.denied.length > 0) appendFileSync(f.events, r.denied.map((d) => `${JSON.stringify(d)}\n`).join(''));
      if (f.json) printJson({ exitCode: r.exitCode, reason: r.reason, message: r.message, counters: r.counters, denied: r.denied, ...(r.tunnel ? { tunnel: r.tunnel } : {}), id: r.id, ms: Math.round(r.ms) });
      else if (!f.quiet) process.stderr.write(summary(r));
      process.exitCode = r.exitCode;
    });
}
