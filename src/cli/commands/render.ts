/** `cordon render FILE --target T [--host H] [--out DIR]`. */
import type { Command } from 'commander';
import { loadRenderer, TARGET_NAMES } from '../../render/targets.js';
import { isKeyedRenderer } from '../../render/wireguard/keys.js';
import { isStreamingRenderer } from '../../render/types.js';
import { stageFiles, writeRendered } from '../../render/write.js';
import { unknownNameHint } from '../../util/suggest.js';
import { EXIT, ExitError, pathFailure, printJson } from '../io.js';
import { loadIr, printDiagnostics } from '../load.js';
import { defaultKeyDir, openKeyStore } from '../keystore.js';

function collectParam(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function registerRender(program: Command): void {
  program
    .command('render')
    .description('write the configs for a target (nftables, …) from the spec; --target list shows targets')
    .argument('[file]', 'spec file')
    .requiredOption('-t, --target <name>', 'render target, or "list"')
    .option('--host <name>', 'only the files for this host')
    .option('-o, --out <dir>', 'write files under DIR (default: print to stdout)')
    .option('-p, --param <key=value>', 'target parameter (repeatable)', collectParam, [])
    .option('--json', 'print {path, content} objects instead of text (secrets are redacted)')
    .option('--keys <dir>', 'WireGuard key store, 0700 (default .cordon/keys/<spec name>/); missing key pairs are generated there')
    .action(async (file: string | undefined, opts: { target: string; host?: string; out?: string; param: string[]; json?: boolean; keys?: string }) => {
      if (opts.target === 'list') {
        const { RENDERERS } = await import('../../render/registry.js');
        for (const r of RENDERERS) {
          process.stdout.write(`${r.name.padEnd(12)} ${r.description}\n`);
          for (const p of r.params) process.stdout.write(`${''.padEnd(14)}-p ${p.name}=…  ${p.description} (default ${p.default})\n`);
        }
        return;
      }
      // Only the named target's code is loaded (the registry is every target and the YAML library).
      const r = await loadRenderer(opts.target);
      if (!r) throw new ExitError(EXIT.invalid, `unknown target '${opts.target}' (${unknownNameHint(opts.target, TARGET_NAMES)})`);
      if (!file) throw new ExitError(EXIT.invalid, 'render needs a spec file');
      const params = new Map<string, string>();
      for (const kv of opts.param) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new ExitError(EXIT.invalid, `--param '${kv}': expected KEY=VALUE`);
        const key = kv.slice(0, eq);
        if (!r.params.some((p) => p.name === key))
          throw new ExitError(
            EXIT.invalid,
            `target ${r.name} has no parameter '${key}' (${unknownNameHint(
              key,
              r.params.map((p) => p.name),
            )})`,
          );
        params.set(key, kv.slice(eq + 1));
      }
      const ir = loadIr(file);
      if (opts.host !== undefined && !ir.model.hosts.has(opts.host))
        throw new ExitError(EXIT.invalid, `--host: unknown host '${opts.host}' (${unknownNameHint(opts.host, [...ir.model.hosts.keys()])})`);
      let renderer = r;
      if (isKeyedRenderer(r)) {
        // Keys are input to the (pure) renderer: load them, generating missing pairs; never print them.
        const dir = opts.keys ?? defaultKeyDir(file);
        let store: ReturnType<typeof openKeyStore>;
        try {
          store = openKeyStore(dir, r.keyNames(ir, { host: opts.host, params }));
        } catch (e) {
          throw pathFailure(e, '--keys');
        }
        for (const n of store.generated) process.stderr.write(`generated a WireGuard key pair for ${n} in ${dir}\n`);
        renderer = r.withKeys(store.source);
      }
      if (opts.out && isStreamingRenderer(renderer)) {
        // Each file goes to a temporary file as it is made (nftables at 10,000 hosts: 250 MB
        // never held); they replace the old files only when the render is complete and sound.
        const staged = stageFiles(opts.out);
        let streamed: ReturnType<typeof renderer.renderTo>;
        try {
          streamed = renderer.renderTo(ir, { host: opts.host, params }, staged.open);
        } catch (e) {
          staged.discard();
          throw e;
        }
        printDiagnostics(streamed.diagnostics, undefined);
        if (streamed.diagnostics.some((d) => d.severity === 'error')) {
          staged.discard();
          throw new ExitError(EXIT.failed, `target ${r.name} cannot express this spec`);
        }
        let written: string[];
        try {
          written = staged.commit();
        } catch (e) {
          throw pathFailure(e, '--out');
        }
        for (const w of written) process.stderr.write(`wrote ${w}\n`);
        return;
      }
      const result = renderer.render(ir, { host: opts.host, params });
      printDiagnostics(result.diagnostics, undefined);
      if (result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(EXIT.failed, `target ${r.name} cannot express this spec`);
      if (opts.out) {
        let written: string[];
        try {
          written = writeRendered(opts.out, result.files);
        } catch (e) {
          throw pathFailure(e, '--out');
        }
        for (const w of written) process.stderr.write(`wrote ${w}\n`);
      } else if (opts.json) {
        printJson(result.files.map((f) => ({ path: f.path, secret: f.secret, content: f.secret ? '<redacted: write with --out>' : f.content })));
      } else {
        for (const f of result.files) {
          if (f.secret) {
            process.stdout.write(`# ==> ${f.path} (secret: not printed; use --out DIR to write it 0600)\n`);
            continue;
          }
          process.stdout.write(`# ==> ${f.path}\n${f.content}`);
        }
      }
    });
}
