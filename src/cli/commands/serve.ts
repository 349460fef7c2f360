/** `cordon serve`: the HTTP API over the library, its state in SQLite under --data. */
import type { Command } from 'commander';
import { EXIT, ExitError, pathFailure } from '../io.js';

interface ServeOpts {
  port: string;
  host: string;
  data: string;
  initAdmin?: boolean;
  adminName: string;
  wireguardNetns?: string;
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
    .option('--init-admin', 'create the first administrator, print its one-time password once, and exit')
    .option('--admin-name <name>', 'account name for --init-admin', 'admin')
    .action(async (opts: ServeOpts) => {
      const { startServer, initAdmin, InitAdminError } = await import('../../server/index.js');
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
      let server;
      try {
        server = await startServer({ dataDir: opts.data, host: opts.host, port, wireguardNetns: opts.wireguardNetns });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        // A socket error is about --host/--port; one with a path is about --data (a directory the
        // user may not write, a file where a directory belongs).
        if (err.path === undefined && (err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES'))
          throw new ExitError(EXIT.invalid, `cannot listen on ${opts.host}:${port}: ${err.code}`);
        throw pathFailure(e, '--data');
      }
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
