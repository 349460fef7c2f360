/** `cordon query` and `cordon explain`: one flow, its verdict, path and deciding rule. */
import type { Command } from 'commander';
import type { Source } from '../../ir/paths.js';
import type { Ir } from '../../ir/types.js';
import type { Dest } from '../../verify/engine.js';
import { Engine } from '../../verify/engine.js';
import { explain } from '../../verify/explain.js';
import { explanationToText } from '../../report/explain.js';
import { parseIPv4 } from '../../util/ip.js';
import { unknownNameHint } from '../../util/suggest.js';
import type { Flow } from '../../util/flows.js';
import { EXIT, ExitError, parseAssume, printJson, useColor } from '../io.js';
import { loadIr } from '../load.js';

interface QueryOpts {
  from: string;
  to: string;
  proto: string;
  port?: string;
  assume?: string;
  json?: boolean;
}

function endpointNames(ir: Ir): string[] {
  return [...ir.model.hosts.keys(), 'internet', 'lan'];
}

export function resolveSource(ir: Ir, name: string): Source {
  if (name === 'internet' || name === 'lan') return { kind: 'zone', zone: name };
  if (ir.model.hosts.has(name)) return { kind: 'host', host: name };
  const addr = parseIPv4(name);
  if (addr !== undefined) {
    for (const h of ir.model.hosts.values()) if (h.nics.some((n) => n.address === addr)) return { kind: 'host', host: h.name };
    throw new ExitError(EXIT.invalid, `--from ${name}: no declared host has that address; use a host name, internet or lan`);
  }
  throw new ExitError(EXIT.invalid, `--from: unknown host '${name}' (${unknownNameHint(name, endpointNames(ir))})`);
}

export function resolveDest(ir: Ir, name: string): { dest: Dest; flowFromService?: Flow } {
  if (name === 'internet' || name === 'lan') return { dest: { kind: 'zone', zone: name } };
  if (ir.model.hosts.has(name)) return { dest: { kind: 'host', host: name } };
  const dot = name.indexOf('.');
  if (dot > 0 && ir.model.hosts.has(name.slice(0, dot))) {
    const svc = ir.model.hosts.get(name.slice(0, dot))!.services.get(name.slice(dot + 1));
    if (!svc)
      throw new ExitError(
        EXIT.invalid,
        `--to: host '${name.slice(0, dot)}' has no service '${name.slice(dot + 1)}' (${unknownNameHint(name.slice(dot + 1), [...ir.model.hosts.get(name.slice(0, dot))!.services.keys()])})`,
      );
    const flow: Flow = svc.tcp.length ? { proto: 'tcp', port: svc.tcp[0]![0] } : svc.udp.length ? { proto: 'udp', port: svc.udp[0]![0] } : { proto: 'icmp' };
    return { dest: { kind: 'host', host: name.slice(0, dot) }, flowFromService: flow };
  }
  const addr = parseIPv4(name);
  if (addr !== undefined) return { dest: { kind: 'addr', addr } };
  throw new ExitError(EXIT.invalid, `--to: unknown destination '${name}' (${unknownNameHint(name, endpointNames(ir))})`);
}

export function parseFlow(proto: string | undefined, port: string | undefined, fallback?: Flow): Flow {
  if (proto === undefined) {
    if (fallback) return fallback;
    throw new ExitError(EXIT.invalid, '--proto is required (tcp, udp, icmp) unless --to names a service');
  }
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp' && proto !== 'other')
    throw new ExitError(EXIT.invalid, `--proto must be tcp, udp, icmp or other, got '${proto}'`);
  if (proto === 'icmp' || proto === 'other') {
    if (port !== undefined) throw new ExitError(EXIT.invalid, `--port makes no sense with --proto ${proto}`);
    return { proto };
  }
  if (port === undefined) {
    if (fallback && fallback.proto === proto) return fallback;
    throw new ExitError(EXIT.invalid, `--port is required with --proto ${proto}`);
  }
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ExitError(EXIT.invalid, `--port must be 1–65535, got '${port}'`);
  return { proto, port: n };
}

function run(file: string, opts: QueryOpts, full: boolean): void {
  const assume = parseAssume(opts.assume);
  const ir = loadIr(file, { quietWarnings: true });
  const from = resolveSource(ir, opts.from);
  const { dest, flowFromService } = resolveDest(ir, opts.to);
  const flow = parseFlow(opts.proto, opts.port, flowFromService);
  const engine = new Engine(ir);
  const e = explain(ir, engine.reach(from, dest, assume), flow);
  if (opts.json) printJson(e);
  else process.stdout.write(`${explanationToText(e, useColor(), full)}\n`);
  process.exitCode = e.verdict === 'allow' ? EXIT.ok : EXIT.failed;
}

export function registerQuery(program: Command): void {
  for (const [name, full] of [
    ['query', false],
    ['explain', true],
  ] as const) {
    program
      .command(name)
      .description(
        full
          ? 'explain one flow hop by hop: every path considered, every rule that decided, with file and line'
          : 'is one flow allowed? prints the verdict, the path and the deciding rule (exit 0 allow, 1 deny)',
      )
      .argument('<file>', 'spec file; - reads standard input')
      .requiredOption('--from <host>', 'source: host name, its address, internet or lan')
      .requiredOption('--to <dest>', 'destination: host, host.service, address, internet or lan')
      .option('--proto <proto>', "tcp, udp, icmp or other (default: the service's own)")
      .option('--port <n>', 'destination port for tcp/udp')
      .option('--assume <view>', 'configured or compromised', 'configured')
      .option('--json', 'JSON with top-level "verdict": "allow" | "deny", the path and the deciding rule with its origin')
      .action((file: string, opts: QueryOpts) => run(file, opts, full));
  }
}
