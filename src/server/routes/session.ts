/** Logging in and out, the current session, and API tokens. */
import type { z } from 'zod';
import { CSRF_HEADER, SESSION_COOKIE } from '../auth.js';
import type { Auth } from '../auth.js';
import type { ServerSettings } from '../config.js';
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import { LoginBody, SessionResponse, TokenCreateBody, TokenCreated, TokenIdParams, TokenSchema } from '../schemas.js';
import { newApiToken } from '../secrets.js';
import type { ApiToken, Store } from '../store.js';

/** What the API shows of a token: named fields only (never the owner's id), so a field added to the store does not leak by default. */
function tokenView(t: ApiToken): z.output<typeof TokenSchema> {
  return { id: t.id, name: t.name, scopes: [...t.scopes], createdAt: t.createdAt, revoked: t.revoked };
}

export function sessionRoutes(api: Api, auth: Auth, store: Store, settings: ServerSettings, afterLogout: () => void = () => undefined): void {
  api.route(
    {
      method: 'POST',
      url: '/api/auth/login',
      summary: 'log in with a password; sets the session cookie and returns the CSRF token (rate-limited per address: 429 with Retry-After)',
      tag: 'auth',
      auth: 'public',
      body: LoginBody,
      responses: {
        200: { description: 'logged in', schema: SessionResponse },
        401: { description: 'wrong user name or password' },
        429: { description: 'too many attempts' },
      },
    },
    async ({ body, req, reply }) => {
      const s = await auth.login(body.username, body.password, req.ip);
      reply.setCookie(SESSION_COOKIE, s.sessionId, {
        signed: true,
        httpOnly: true,
        sameSite: 'strict',
        secure: settings.secureCookies,
        path: '/',
        maxAge: Math.floor(settings.sessionTtlMs / 1000),
      });
      return { user: s.user, csrfToken: s.csrf, expiresAt: new Date(s.expiresAt).toISOString() };
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/auth/logout',
      summary: 'end this session',
      tag: 'auth',
      auth: 'specs:read',
      responses: { 200: { description: 'logged out', schema: SessionResponse.pick({ user: true }) } },
    },
    ({ auth: ctx, reply }) => {
      auth.logout(ctx!);
      afterLogout();
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { user: ctx!.user };
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/auth/session',
      summary: `who is logged in, and the session's CSRF token (for ${CSRF_HEADER})`,
      tag: 'auth',
      auth: 'specs:read',
      responses: { 200: { description: 'the caller', schema: SessionResponse } },
    },
    ({ auth: ctx }) => {
      if (ctx!.via !== 'session') throw new HttpError(400, 'this call is for cookie sessions; an API token has no session');
      return { user: ctx!.user, csrfToken: ctx!.csrf! };
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/tokens',
      summary: 'create a scoped API token; the secret is in this answer only',
      tag: 'tokens',
      auth: 'tokens:write',
      body: TokenCreateBody,
      responses: { 201: { description: 'created', schema: TokenCreated } },
    },
    ({ body, auth: ctx, reply }) => {
      const t = newApiToken();
      const created = store.createToken(ctx!.actor, {
        id: t.id,
        userId: ctx!.user.id,
        name: body.name,
        hash: t.hash,
        scopes: [...new Set(body.scopes)].sort(),
      });
      reply.code(201);
      return { ...tokenView(created), token: t.token };
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/tokens',
      summary: "the caller's API tokens (never their secrets)",
      tag: 'tokens',
      auth: 'tokens:write',
      responses: { 200: { description: 'tokens', schema: TokenSchema.array() } },
    },
    ({ auth: ctx }) => store.tokensOf(ctx!.user.id).map(tokenView),
  );

  api.route(
    {
      method: 'DELETE',
      url: '/api/tokens/:id',
      summary: 'revoke an API token',
      tag: 'tokens',
      auth: 'tokens:write',
      params: TokenIdParams,
      responses: { 200: { description: 'revoked', schema: TokenSchema } },
    },
    ({ params, auth: ctx }) => {
      const found = store.tokenById(params.id);
      // Someone else's token is reported as unknown, not as forbidden: ids are not to be probed.
      if (!found || found.token.userId !== ctx!.user.id) throw new HttpError(404, `no API token with id '${params.id}'`);
      return tokenView(store.revokeToken(ctx!.actor, params.id)!);
    },
  );
}
