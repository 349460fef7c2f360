/**
 * Accounts: an administrator creates, lists, changes the tier of and disables accounts; anyone
 * reads their own quotas and usage and changes their own password (knowing the current one).
 * Administrators cannot change their own tier or disable themselves: one slip must not leave a
 * server with no administrator.
 */
import type { ServerSettings } from '../config.js';
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import { AccountCreateBody, AccountCreated, AccountIdParams, AccountSelf, DisableBody, PasswordBody, TierBody, UserSchema } from '../schemas.js';
import { hashPassword, randomSecret, verifyPassword } from '../secrets.js';
import type { Store, User } from '../store.js';
import type { VaultService } from '../vault.js';

export function accountRoutes(api: Api, store: Store, settings: ServerSettings, vault: VaultService): void {
  const other = (id: number, self: User, what: string): User => {
    const u = store.userById(id);
    if (!u) throw new HttpError(404, `no account with id ${id}`);
    if (u.id === self.id) throw new HttpError(409, `you cannot ${what} your own account; ask another administrator`);
    return u;
  };

  api.route(
    {
      method: 'POST',
      url: '/api/accounts',
      summary: 'create an account (admin); without a password the server makes a one-time one, shown once',
      tag: 'accounts',
      auth: 'accounts:admin',
      body: AccountCreateBody,
      responses: { 201: { description: 'created', schema: AccountCreated }, 409: { description: 'the name is taken' } },
    },
    async ({ body, auth, reply }) => {
      if (store.userByName(body.name)) throw new HttpError(409, `account '${body.name}' already exists`);
      const password = body.password ?? randomSecret(18);
      const user = store.createUser(auth!.actor, body.name, await hashPassword(password), body.tier);
      reply.code(201);
      return body.password === undefined ? { user, password } : { user };
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/accounts',
      summary: 'every account, by name (admin)',
      tag: 'accounts',
      auth: 'accounts:admin',
      responses: { 200: { description: 'accounts', schema: UserSchema.array() } },
    },
    () => store.listUsers(),
  );

  api.route(
    {
      method: 'POST',
      url: '/api/accounts/:id/tier',
      summary: "change an account's tier (admin): free, early-access or admin; its tokens' powers follow at once",
      tag: 'accounts',
      auth: 'accounts:admin',
      params: AccountIdParams,
      body: TierBody,
      responses: { 200: { description: 'the account', schema: UserSchema } },
    },
    ({ params, body, auth }) => {
      const u = other(params.id, auth!.user, 'change the tier of');
      return u.tier === body.tier ? u : store.setTier(auth!.actor, u.id, body.tier)!;
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/accounts/:id/disable',
      summary: 'disable (or enable again) an account (admin): no login, its sessions end, its tokens are refused',
      tag: 'accounts',
      auth: 'accounts:admin',
      params: AccountIdParams,
      body: DisableBody,
      responses: { 200: { description: 'the account', schema: UserSchema } },
    },
    ({ params, body, auth }) => {
      const u = other(params.id, auth!.user, 'disable');
      return u.disabled === body.disabled ? u : store.setDisabled(auth!.actor, u.id, body.disabled)!;
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/account',
      summary: "the caller's account, its tier's quotas and what it uses now",
      tag: 'accounts',
      auth: 'account:write',
      responses: { 200: { description: 'the account', schema: AccountSelf } },
    },
    ({ auth }) => {
      const u = auth!.user;
      const q = settings.quotas[u.tier];
      return {
        user: u,
        quotas: { ...q, apiCallsPerMinute: settings.apiCallsPerMinute[u.tier] },
        usage: {
          peers: store.activePeersOf(u.id),
          sandboxRunsPerHour: store.sandboxRunsSince(u.id, Date.now() - 3600_000),
          vaultBytes: vault.bytesOf(u.id),
        },
      };
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/account/password',
      summary: 'change your own password (the current one is required); your other sessions end',
      tag: 'accounts',
      auth: 'account:write',
      body: PasswordBody,
      responses: { 200: { description: 'changed', schema: UserSchema }, 403: { description: 'the current password is wrong' } },
    },
    async ({ body, auth }) => {
      const creds = store.credentialsOf(auth!.user.name);
      if (!creds || !(await verifyPassword(creds.passwordHash, body.current))) throw new HttpError(403, 'the current password is wrong');
      if (body.current === body.new)
        throw new HttpError(400, 'the new password is the current one', { issues: [{ path: 'body.new', message: 'must differ from the current password' }] });
      return store.setPassword(auth!.actor, auth!.user.id, await hashPassword(body.new), auth!.sessionHash)!;
    },
  );
}
