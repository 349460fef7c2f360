/**
 * The server's lifecycle: open the data directory, build the app, listen; and the first-run step
 * that creates an administrator. `cordon serve` is a thin shell over these two.
 *
 * Data directory (0700): `cordon.db` (0600, SQLite), `cookie.secret` (0600, signs session cookies;
 * kept across restarts so sessions survive them).
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { buildApp } from './app.js';
import { currentDevice } from './device.js';
import { resolveSettings, type ServerSettings, type ServerSettingsInput } from './config.js';
import { hashPassword, loadOrCreateSecretFile, randomSecret } from './secrets.js';
import { Store } from './store.js';

export interface RunningServer {
  /** `http://host:port`, with the port actually bound (useful with port 0). */
  readonly url: string;
  readonly port: number;
  readonly settings: ServerSettings;
  close(): Promise<void>;
}

function openDataDir(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  return new Store(join(dataDir, 'cordon.db'), { device: currentDevice });
}

export async function startServer(input: ServerSettingsInput, opts: { log?: Writable } = {}): Promise<RunningServer> {
  const settings = resolveSettings(input);
  const store = openDataDir(settings.dataDir);
  try {
    const cookieSecret = loadOrCreateSecretFile(join(settings.dataDir, 'cookie.secret'));
    const app = await buildApp({ store, settings, cookieSecret, ...(opts.log ? { log: opts.log } : {}) });
    await app.listen({ host: settings.host, port: settings.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : settings.port;
    const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
    return {
      url: `http://${host}:${port}`,
      port,
      settings,
      close: async () => {
        await app.close();
        store.close();
      },
    };
  } catch (e) {
    store.close();
    throw e;
  }
}

export class InitAdminError extends Error {}

/**
 * Creates the administrator account with a random password and returns it: the caller shows it
 * once; only its argon2id hash is stored. Refuses when an admin exists (there is no default
 * password, and no way to read one back).
 */
export async function initAdmin(dataDir: string, name = 'admin'): Promise<{ name: string; password: string }> {
  const store = openDataDir(dataDir);
  try {
    if (store.userByName(name)) throw new InitAdminError(`account '${name}' already exists in ${dataDir}; --init-admin only creates the first administrator`);
    const password = randomSecret(24);
    store.createUser('cli:init-admin', name, await hashPassword(password), 'admin');
    return { name, password };
  } finally {
    store.close();
  }
}
