/**
 * The server's lifecycle: open the data directory, build the app, listen; and the first-run step
 * that creates an administrator. `cordon serve` is a thin shell over these two.
 *
 * Data directory (0700): `cordon.db` (0600, SQLite), `cookie.secret` (0600, signs session cookies;
 * kept across restarts so sessions survive them).
 */
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { buildApp } from './app.js';
import { currentDevice } from './device.js';
import { resolveSettings, type ServerSettings, type ServerSettingsInput } from './config.js';
import type { Diagnostic } from '../diag/diagnostic.js';
import { checkSpec } from './analysis.js';
import { SPEC_NAME } from './schemas.js';
import { hashPassword, loadOrCreateSecretFile, randomSecret, sha256 } from './secrets.js';
import { Store } from './store.js';
import { makeDirs } from '../util/mkdirs.js';

export interface RunningServer {
  /** `http://host:port`, with the port actually bound (useful with port 0). */
  readonly url: string;
  readonly port: number;
  readonly settings: ServerSettings;
  close(): Promise<void>;
}

function openDataDir(dataDir: string): Store {
  makeDirs(dataDir, 0o700);
  chmodSync(dataDir, 0o700);
  return new Store(join(dataDir, 'cordon.db'), { device: currentDevice });
}

/** A spec given at start (`cordon serve --spec FILE`): its name in the server, its text, and the file it came from (for messages). */
export interface StartSpec {
  readonly name: string;
  readonly text: string;
  readonly file: string;
}

/** Why the server did not start: a spec given at start is invalid (its diagnostics say where). */
export class StartError extends Error {
  constructor(
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
  }
}

/**
 * Uploads each spec as a new version unless its latest version has the same text already; all
 * are checked before any is stored, so one invalid file stores none. Returns what it did.
 */
export function importSpecs(store: Store, specs: readonly StartSpec[]): { name: string; version: number; stored: boolean }[] {
  const checked = specs.map((s) => {
    if (!SPEC_NAME.test(s.name))
      throw new StartError(
        `${s.file}: '${s.name}' cannot name a spec (letters, digits, dot, dash and underscore, at most 100, starting with a letter or digit); rename the file`,
      );
    const { json, hosts } = checkSpec(s.text, s.file);
    const errors = json.diagnostics.filter((d) => d.severity === 'error');
    if (!json.ok || errors.length > 0)
      throw new StartError(`${s.file}: ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing stored`, json.diagnostics);
    return { ...s, hosts, sha: sha256(s.text) };
  });
  return checked.map((s) => {
    const have = store.listSpecs().find((x) => x.name === s.name);
    if (have && store.specVersion(have.id, have.latestVersion)!.sha256 === s.sha) return { name: s.name, version: have.latestVersion, stored: false };
    const r = store.addSpecVersion('cli:serve --spec', s.name, s.text, s.sha, s.hosts);
    return { name: s.name, version: r.version.version, stored: true };
  });
}

export async function startServer(
  input: ServerSettingsInput,
  opts: { log?: Writable; specs?: readonly StartSpec[] } = {},
): Promise<RunningServer & { imported: ReturnType<typeof importSpecs> }> {
  const settings = resolveSettings(input);
  const store = openDataDir(settings.dataDir);
  try {
    const imported = importSpecs(store, opts.specs ?? []);
    const cookieSecret = loadOrCreateSecretFile(join(settings.dataDir, 'cookie.secret'));
    const app = await buildApp({ store, settings, cookieSecret, ...(opts.log ? { log: opts.log } : {}) });
    await app.listen({ host: settings.host, port: settings.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : settings.port;
    const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
    return {
      url: `${settings.tls ? 'https' : 'http'}://${host}:${port}`,
      port,
      settings,
      imported,
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
