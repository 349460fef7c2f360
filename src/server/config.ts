/**
 * The server's settings, every default filled in here and nowhere else (as src/model/resolve.ts
 * does for specs): the rest of src/server reads a `ServerSettings` with nothing optional.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tier } from './store.js';

export interface ServerSettings {
  /** State directory: `cordon.db` (0600), `cookie.secret` (0600), `billing-webhook.secret` if configured. */
  readonly dataDir: string;
  /** 127.0.0.1 by default: exposing the API is a decision, not an accident. */
  readonly host: string;
  /** 7300 by default; 0 picks a free port (tests). */
  readonly port: number;
  /** Largest request body in bytes (1 MiB: a 1,000-host spec is about 200 KiB). */
  readonly bodyLimit: number;
  /** How long a login session lasts (12 h). */
  readonly sessionTtlMs: number;
  /** Login attempts allowed per client address per window (10 per minute). */
  readonly loginLimit: { readonly max: number; readonly windowMs: number };
  /**
   * Authenticated API calls allowed per account per minute, by tier (seed 002's quotas): free 60,
   * early-access 600, admin 6,000. Past it: 429 with Retry-After.
   */
  readonly apiCallsPerMinute: Readonly<Record<Tier, number>>;
  /** Stripe's default tolerance between the signature's timestamp and now: 300 s. */
  readonly webhookToleranceS: number;
  /**
   * The billing endpoint's signing secret (Stripe's `whsec_…`), from $CORDON_BILLING_WEBHOOK_SECRET
   * or `<data>/billing-webhook.secret`; undefined = the webhook answers 503.
   */
  readonly billingSecret: string | undefined;
  /**
   * The network namespace where the tunnels' hub interfaces run: after every peer change the
   * server runs `wg syncconf <ifname> <config>` there, which adds and removes peers without
   * touching the others' sessions. Undefined (the default): configs are written, not applied.
   */
  readonly wireguardNetns: string | undefined;
  /** Cookies marked Secure: on when served over TLS. */
  readonly secureCookies: boolean;
  /** Quotas by tier (seed 002's AccessLevel limits); API calls per minute are `apiCallsPerMinute` above. */
  readonly quotas: Readonly<Record<Tier, TierQuota>>;
  /** How often expired peers and vault sessions are removed (60 s); also once at start, before listening. */
  readonly sweepIntervalMs: number;
  /** Sandbox runs at once (2: the machine's cores are the limit) and how many more may wait (8); past that: 429. */
  readonly sandboxConcurrency: number;
  readonly sandboxQueue: number;
  /** Seed 002's SandboxConfig: 512 MiB, half a CPU, 30 s; no network and a read-only root are not settings. */
  readonly sandboxLimits: { readonly memoryBytes: number; readonly cpus: number; readonly timeoutMs: number };
  /** Where vault sessions live: `<data>/vault` (its master key inside, 0600). */
  readonly vaultDir: string;
  /** Vault sessions last at most this long (12 h, a login session's length) unless their login session ends first. */
  readonly vaultTtlMs: number;
  /** Largest vault upload body (16 MiB; the file travels base64-encoded). */
  readonly vaultBodyLimit: number;
  /** Specs with more hosts than this answer matrix, lint and render as background jobs (202 + job id). */
  readonly jobHostThreshold: number;
  /** TLS: PEM certificate and key (both or neither). Set, the server speaks HTTPS and cookies are Secure. */
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
}

/** What one account of a tier may have or do. */
export interface TierQuota {
  /** Active WireGuard peers the account made. */
  readonly peers: number;
  /** Sandbox runs started in the last hour (0: the sandbox is refused). */
  readonly sandboxRunsPerHour: number;
  /** Bytes in the account's live vault sessions together (0: the vault is refused). */
  readonly vaultBytes: number;
}

/** Free gets no vault and no sandbox (seed 002: "Vault requires Early Access subscription"). */
export const DEFAULT_QUOTAS: Readonly<Record<Tier, TierQuota>> = {
  free: { peers: 1, sandboxRunsPerHour: 0, vaultBytes: 0 },
  'early-access': { peers: 5, sandboxRunsPerHour: 60, vaultBytes: 100 * 1024 * 1024 },
  admin: { peers: 1000, sandboxRunsPerHour: 600, vaultBytes: 1024 * 1024 * 1024 },
};

export type ServerSettingsInput = Partial<Omit<ServerSettings, 'dataDir'>> & { readonly dataDir: string };

export const DEFAULT_PORT = 7300;

function billingSecretFrom(dataDir: string, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.CORDON_BILLING_WEBHOOK_SECRET;
  if (fromEnv) return fromEnv;
  try {
    return readFileSync(join(dataDir, 'billing-webhook.secret'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function resolveSettings(input: ServerSettingsInput, env: NodeJS.ProcessEnv = process.env): ServerSettings {
  return {
    dataDir: input.dataDir,
    host: input.host ?? '127.0.0.1',
    port: input.port ?? DEFAULT_PORT,
    bodyLimit: input.bodyLimit ?? 1024 * 1024,
    sessionTtlMs: input.sessionTtlMs ?? 12 * 3600 * 1000,
    loginLimit: input.loginLimit ?? { max: 10, windowMs: 60_000 },
    apiCallsPerMinute: input.apiCallsPerMinute ?? { free: 60, 'early-access': 600, admin: 6000 },
    webhookToleranceS: input.webhookToleranceS ?? 300,
    billingSecret: input.billingSecret ?? billingSecretFrom(input.dataDir, env),
    wireguardNetns: input.wireguardNetns,
    secureCookies: input.secureCookies ?? input.tls !== undefined,
    quotas: input.quotas ?? DEFAULT_QUOTAS,
    sweepIntervalMs: input.sweepIntervalMs ?? 60_000,
    sandboxConcurrency: input.sandboxConcurrency ?? 2,
    sandboxQueue: input.sandboxQueue ?? 8,
    sandboxLimits: input.sandboxLimits ?? { memoryBytes: 512 * 1024 * 1024, cpus: 0.5, timeoutMs: 30_000 },
    vaultDir: input.vaultDir ?? join(input.dataDir, 'vault'),
    vaultTtlMs: input.vaultTtlMs ?? 12 * 3600 * 1000,
    vaultBodyLimit: input.vaultBodyLimit ?? 16 * 1024 * 1024,
    jobHostThreshold: input.jobHostThreshold ?? 200,
    tls: input.tls,
  };
}
