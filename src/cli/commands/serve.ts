/** `cordon serve`: the HTTP API over the library, its state in SQLite under --data. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { formatDiagnostics } from '../../diag/format.js';
import { EXIT, ExitError, pathFailure, useColor } from '../io.js';

interface ServeOpts {
  port: string;
  host: string;
  data: string;
  initAdmin?: boolean;
  adminName: string;
  wireguardNetns?: string;
  tlsCert?: string;
  tlsKey?: string;
  spec?: string[];
}

/** A file the user named with `flag`, as text; unreadable → exit 2 naming the flag and the path. */
function readFlagFile(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw pathFailure(e, flag);
  }
}

/** `--spec FILE`: the spec's name in the server is the file's name without .yaml/.yml. */
function startSpecs(files: readonly string[]): { name: string; text: string; file: string }[] {
  return files.map((file) => ({ name: basename(file).replace(/\.ya?ml$/i, ''), text: readFlagFile(file, '--spec'), file }));
}

function tlsOf(opts: ServeOpts): { cert: string; key: string } | undefined {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined) return undefined;
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) throw new ExitError(EXIT.invalid, '--tls-cert and --tls-key go together: give both (PEM files)');
  const cert = readFlagFile(opts.tlsCert, '--tls-cert');
  const key = readFlagFile(opts.tlsKey, '--tls-key');
  if (!cert.includes('-----BEGIN CERTIFICATE-----'))
    throw new ExitError(EXIT.invalid, `--tls-cert ${opts.tlsCert}: not a PEM certificate (no BEGIN CERTIFICATE line)`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key))
    throw new ExitError(EXIT.invalid, `--tls-key ${opts.tlsKey}: not a PEM private key (no BEGIN … PRIVATE KEY line)`);
  return { cert, key };
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ExitError(EXIT.invalid, `--port must be 0–65535, got '${v}'`);
  return n;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API (specs, analysis, accounts, audit, billing webhook); state in SQLite under --data')
    .option('--port <n>', 'TCP port (0: any free port)', '7300')
    .option('--host <addr>', 'address to bind; 127.0.0.1 unless you mean to expose the API', '127.0.0.1')
    .option('--data <dir>', 'state directory (created 0700)', '.cordon/server')
    .option('--wireguard-netns <ns>', "apply WireGuard peer changes with wg syncconf to the tunnels' hub interfaces in this network namespace")
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key); cookies are then Secure')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option(
      '--spec <files...>',
      'specs to load at start: each is stored as a new version of the spec named after the file, unless that version is already the latest',
    )
    .option('--init-admin', 'create the first administrator, print its one-time password once, and exit')
    .option('--admin-name <name>', 'account name for --init-admin', 'admin')
    .action(async (opts: ServeOpts) => {
      const { startServer, initAdmin, InitAdminError, StartError } = await import('../../server/index.js');
      if (opts.initAdmin) {
        try {
          const { name, password } = await initAdmin(opts.data, opts.adminName);
          process.stdout.write(`created administrator '${name}' in ${opts.data}\none-time password (shown once, stored only as a hash): ${password}\n`);
          return;
        } catch (e) {
          if (e instanceof InitAdminError) throw new ExitError(EXIT.invalid, e.message);
          throw e;
        }
      }
      const port = parsePort(opts.port);
      const tls = tlsOf(opts);
      const specs = startSpecs(opts.spec ?? []);
      let server;
      try {
        server = await startServer({ dataDir: opts.data, host: opts.host, port, wireguardNetns: opts.wireguardNetns, tls }, { specs });
      } catch (e) {
        if (e instanceof StartError) {
          if (e.diagnostics.length) {
            const sources = new Map(specs.map((s) => [s.file, s.text]));
            process.stderr.write(`${formatDiagnostics(e.diagnostics, { sources, color: useColor(process.stderr) })}\n`);
          }
          throw new ExitError(EXIT.invalid, `--spec ${e.message}`);
        }
        const err = e as NodeJS.ErrnoException & { library?: string };
        // OpenSSL's refusal of the pair (a key that does not match, a damaged PEM) is about --tls-cert/--tls-key.
        if (tls && (err.library !== undefined || /^ERR_OSSL|^ERR_TLS/.test(err.code ?? '')))
          throw new ExitError(EXIT.invalid, `--tls-cert/--tls-key: the certificate and key cannot be used together: ${err.message}`);
        // A socket error is about --host/--port; one with a path is about --data (a directory the
        // user may not write, a file where a directory belongs).
        if (err.path === undefined && (err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES'))
          throw new ExitError(EXIT.invalid, `cannot listen on ${opts.host}:${port}: ${err.code}`);
        throw pathFailure(e, '--data');
      }
      for (const i of server.imported)
        process.stdout.write(`cordon: --spec ${i.name}: ${i.stored ? `stored as version ${i.version}` : `unchanged (version ${i.version})`}\n`);
      process.stdout.write(`cordon: listening on ${server.url} (data ${opts.data}); OpenAPI at ${server.url}/openapi.json\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
    });
}
