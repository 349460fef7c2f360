/**
 * Who is calling and what they may do. Two ways in:
 *
 * - a session: `POST /api/auth/login` checks the password (argon2id) and sets `cordon_session`, a
 *   signed, HttpOnly, SameSite=Strict cookie holding a random id; the database keeps only its
 *   SHA-256. Writes made with the cookie must also send the session's CSRF token in `X-CSRF-Token`
 *   (SameSite alone does not cover older browsers or same-site subdomains).
 * - an API token: `Authorization: Bearer cordon_<id>_<secret>`, stored as a digest, limited to the
 *   scopes it was created with (and to what its owner's tier allows). No CSRF check: browsers never
 *   attach it by themselves.
 *
 * No credentials → 401; authenticated but lacking the scope → 403; a cookie write without the
 * CSRF token → 403. Login attempts are rate-limited per client address, API calls per account by
 * its tier's quota → 429 with Retry-After.
 */
import type {} from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import type { ServerSettings } from './config.js';
import { HttpError } from './errors.js';
import { RateLimiter } from './ratelimit.js';
import { decoyHash, parseApiToken, randomSecret, safeEqual, sha256, verifyPassword } from './secrets.js';
import type { Store, Tier, User } from './store.js';

export const SCOPES = [
  'specs:read',
  'specs:write',
  'peers:write',
  'events:write',
  'events:read',
  'metrics:read',
  'audit:read',
  'tokens:write',
  'accounts:admin',
  'account:write',
  'vault:write',
  'sandbox:run',
  'jobs:read',
] as const;
export type Scope = (typeof SCOPES)[number];

export const SESSION_COOKIE = 'cordon_session';
export const CSRF_HEADER = 'x-csrf-token';

const BASE_SCOPES: readonly Scope[] = ['specs:read', 'specs:write', 'peers:write', 'tokens:write', 'account:write', 'jobs:read'];

/** What a tier may do at most; a token's scopes are cut down to these too, so a downgraded account's old tokens lose power at once. */
export function scopesOfTier(tier: Tier): readonly Scope[] {
  switch (tier) {
    case 'admin':
      return SCOPES;
    case 'early-access':
      return [...BASE_SCOPES, 'vault:write', 'sandbox:run'];
    case 'free':
      return BASE_SCOPES;
  }
}

/**
 * Seed 002's refusal for a free account, word for word: its TierManager.check_access answers
 * every gated feature of a free account with this one message, so the sandbox gets it too (the
 * answer's `feature` field says which feature was asked for).
 */
export const FREE_TIER_REFUSAL = 'Vault requires Early Access subscription';

/** The scopes a free account is refused with FREE_TIER_REFUSAL, and the feature each one is. */
export const PAID_ONLY: Partial<Record<Scope, 'vault' | 'sandbox'>> = {
  'vault:write': 'vault',
  'sandbox:run': 'sandbox',
};

export interface AuthContext {
  readonly user: User;
  readonly via: 'session' | 'token';
  readonly scopes: readonly Scope[];
  /** How the audit log names the caller. */
  readonly actor: string;
  /** The session's CSRF token (sessions only). */
  readonly csrf?: string;
  /** The session id's digest (sessions only), for logout. */
  readonly sessionHash?: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Auth {
  private readonly loginLimiter: RateLimiter;
  /** One limiter per tier, keyed by account: a tier's quota applies to each of its accounts. */
  private readonly apiLimiters: Record<Tier, RateLimiter>;

  constructor(
    private readonly store: Store,
    private readonly settings: ServerSettings,
  ) {
    this.loginLimiter = new RateLimiter(settings.loginLimit.max, settings.loginLimit.windowMs);
    const perMinute = (t: Tier) => new RateLimiter(settings.apiCallsPerMinute[t], 60_000);
    this.apiLimiters = { free: perMinute('free'), 'early-access': perMinute('early-access'), admin: perMinute('admin') };
  }

  /** Authenticates the request and checks `scope`; throws 401/403 as described above. */
  authenticate(req: FastifyRequest, scope: Scope): AuthContext {
    const ctx = this.identify(req);
    if (!ctx)
      throw new HttpError(
        401,
        'authentication required: log in (session cookie) or send Authorization: Bearer <API token>',
        {},
        { 'www-authenticate': 'Bearer' },
      );
    const hit = this.apiLimiters[ctx.user.tier].hit(String(ctx.user.id));
    if (!hit.ok)
      throw new HttpError(
        429,
        `account '${ctx.user.name}' (tier ${ctx.user.tier}) made more than ${this.settings.apiCallsPerMinute[ctx.user.tier]} API calls this minute; try again in ${hit.retryAfterS} s`,
        {},
        { 'retry-after': String(hit.retryAfterS) },
      );
    if (ctx.user.disabled) throw new HttpError(403, `account '${ctx.user.name}' is disabled`);
    const paid = PAID_ONLY[scope];
    if (paid !== undefined && ctx.user.tier === 'free') throw new HttpError(403, FREE_TIER_REFUSAL, { tier: 'free', feature: paid, requires: 'early-access' });
    if (!ctx.scopes.includes(scope))
      throw new HttpError(
        403,
        ctx.via === 'token' ? `this API token lacks the scope '${scope}'` : `account '${ctx.user.name}' (tier ${ctx.user.tier}) may not use '${scope}'`,
      );
    if (ctx.via === 'session' && !SAFE_METHODS.has(req.method)) {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !safeEqual(sent, ctx.csrf!))
        throw new HttpError(403, `CSRF token missing or wrong: send the session's token (from login or GET /api/auth/session) in the ${CSRF_HEADER} header`);
    }
    return ctx;
  }

  /** The caller, or undefined when the request carries no valid credentials. A malformed or revoked credential counts as none. */
  identify(req: FastifyRequest): AuthContext | undefined {
    const authz = req.headers.authorization;
    if (authz !== undefined) return this.fromToken(authz);
    const raw = req.cookies[SESSION_COOKIE];
    if (raw === undefined) return undefined;
    const unsigned = req.unsignCookie(raw);
    if (!unsigned.valid || unsigned.value === null) return undefined;
    const sessionHash = sha256(unsigned.value);
    const session = this.store.sessionByHash(sessionHash);
    const user = session && this.store.userById(session.userId);
    if (!session || !user) return undefined;
    return { user, via: 'session', scopes: scopesOfTier(user.tier), actor: `user:${user.name}`, csrf: session.csrf, sessionHash };
  }

  private fromToken(header: string): AuthContext | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const parsed = m ? parseApiToken(m[1]!) : undefined;
    const found = parsed && this.store.tokenById(parsed.id);
    if (!parsed || !found || found.token.revoked || !safeEqual(sha256(parsed.secret), found.hash)) return undefined;
    const user = this.store.userById(found.token.userId);
    if (!user) return undefined;
    const allowed = scopesOfTier(user.tier);
    return {
      user,
      via: 'token',
      scopes: allowed.filter((s) => found.token.scopes.includes(s)),
      actor: `token:${found.token.id} (user:${user.name})`,
    };
  }

  /**
   * Checks a password and opens a session. Unknown names and wrong passwords give the same answer
   * and take the same time (a decoy hash is verified for unknown names).
   */
  async login(name: string, password: string, clientKey: string): Promise<{ sessionId: string; csrf: string; user: User; expiresAt: number }> {
    const hit = this.loginLimiter.hit(clientKey);
    if (!hit.ok) throw new HttpError(429, `too many login attempts; try again in ${hit.retryAfterS} s`, {}, { 'retry-after': String(hit.retryAfterS) });
    const found = this.store.credentialsOf(name);
    const ok = await verifyPassword(found?.passwordHash ?? (await decoyHash()), password);
    if (!found || !ok) throw new HttpError(401, 'wrong user name or password');
    // Said only to someone who knows the password: it tells them nothing they could not learn by logging in.
    if (found.user.disabled) throw new HttpError(403, `account '${name}' is disabled; ask an administrator`);
    const sessionId = randomSecret(32);
    const csrf = randomSecret(24);
    const expiresAt = Date.now() + this.settings.sessionTtlMs;
    this.store.createSession(sha256(sessionId), found.user.id, csrf, expiresAt);
    return { sessionId, csrf, user: found.user, expiresAt };
  }

  logout(ctx: AuthContext): void {
    if (ctx.sessionHash) this.store.deleteSession(ctx.sessionHash);
  }
}
