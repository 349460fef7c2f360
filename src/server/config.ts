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
}

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
    secureCookies: input.secureCookies ?? false,
  };
}
