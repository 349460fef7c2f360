/** `cordon query` and `cordon explain`: one flow, its verdict, path and deciding rule. */
import type { Command } from 'commander';
import type { Ir } from '../../ir/types.js';
import { Engine } from '../../verify/engine.js';
import { explain } from '../../verify/explain.js';
import { CLI_QUERY_NAMES, QueryArgError, resolveQuery } from '../../verify/query-args.js';
import { explanationToText } from '../../report/explain.js';
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

/** The query's source, destination and flow, or exit 2 with the library's message (which names the flag). */
function resolveOrExit(ir: Ir, opts: QueryOpts): ReturnType<typeof resolveQuery> {
  try {
    return resolveQuery(ir, opts, CLI_QUERY_NAMES);
  } catch (e) {
    if (e instanceof QueryArgError) throw new ExitError(EXIT.invalid, e.message);
    throw e;
  }
}

function run(file: string, opts: QueryOpts, full: boolean): void {
  const assume = parseAssume(opts.assume);
  const ir = loadIr(file, { quietWarnings: true });
  const { from, dest, flow } = resolveOrExit(ir, opts);
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
