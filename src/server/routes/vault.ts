/**
 * The vault over HTTP (seed 002's Secure Vault): sessions of encrypted files, a BM25 context query
 * over them, and destroy with verification. Early Access and admin only: a free account is refused
 * with seed 002's own words, "Vault requires Early Access subscription".
 */
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import {
  VaultContextBody,
  VaultContextResponse,
  VaultCreateBody,
  VaultDestroyed,
  VaultFilesResponse,
  VaultParams,
  VaultPutResponse,
  VaultSessionSchema,
  VaultUploadBody,
} from '../schemas.js';
import type { Store } from '../store.js';
import { vaultSessionJson, type VaultService } from '../vault.js';

export function vaultRoutes(api: Api, store: Store, vault: VaultService, uploadLimit: number): void {
  api.route(
    {
      method: 'POST',
      url: '/api/vault/sessions',
      summary: 'open a vault session: files encrypted at rest, destroyed (verified) when its time is up or the login session ends',
      tag: 'vault',
      auth: 'vault:write',
      body: VaultCreateBody,
      responses: { 201: { description: 'created', schema: VaultSessionSchema }, 403: { description: 'free tier: Vault requires Early Access subscription' } },
    },
    ({ body, auth, reply }) => {
      const login = auth!.sessionHash === undefined ? undefined : store.sessionByHash(auth!.sessionHash);
      const v = vault.create(auth!.actor, auth!.user, auth!.sessionHash, login?.expiresAt, body.ttlSeconds);
      reply.code(201);
      return vaultSessionJson(v);
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/vault/sessions',
      summary: "the caller's live vault sessions",
      tag: 'vault',
      auth: 'vault:write',
      responses: { 200: { description: 'sessions', schema: VaultSessionSchema.array() } },
    },
    ({ auth }) => vault.list(auth!.user).map(vaultSessionJson),
  );

  api.route(
    {
      method: 'POST',
      url: '/api/vault/sessions/:id/files',
      summary: "upload a file (text or base64) into a session, encrypted at rest; counted against the tier's vault quota (413 past it)",
      tag: 'vault',
      auth: 'vault:write',
      params: VaultParams,
      body: VaultUploadBody,
      bodyLimit: uploadLimit,
      responses: { 201: { description: 'stored', schema: VaultPutResponse }, 413: { description: 'past the vault quota or the upload limit' } },
    },
    ({ params, body, auth, reply }) => {
      const v = vault.owned(params.id, auth!.user);
      const data = body.text !== undefined ? Buffer.from(body.text, 'utf8') : Buffer.from(body.base64!, 'base64');
      const r = vault.put(auth!.actor, auth!.user, v, body.name, data);
      reply.code(201);
      return r;
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/vault/sessions/:id/files',
      summary: "a session's files: names, sizes, SHA-256 (never the contents)",
      tag: 'vault',
      auth: 'vault:write',
      params: VaultParams,
      responses: { 200: { description: 'files', schema: VaultFilesResponse } },
    },
    ({ params, auth }) => {
      const v = vault.owned(params.id, auth!.user);
      return { session: vaultSessionJson(v), files: vault.files(v) };
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/vault/sessions/:id/context',
      summary: "the chunks of the session's text files most relevant to a query (BM25), decrypted in memory only",
      tag: 'vault',
      auth: 'vault:write',
      params: VaultParams,
      body: VaultContextBody,
      responses: { 200: { description: 'hits', schema: VaultContextResponse } },
    },
    ({ params, body, auth }) => ({ hits: vault.context(vault.owned(params.id, auth!.user), body.query, body.k) }),
  );

  api.route(
    {
      method: 'DELETE',
      url: '/api/vault/sessions/:id',
      summary: 'destroy a session: key shredded first, every blob overwritten, then verified that nothing under the vault root carries its id',
      tag: 'vault',
      auth: 'vault:write',
      params: VaultParams,
      responses: { 200: { description: 'destroyed', schema: VaultDestroyed } },
    },
    ({ params, auth }) => {
      const r = vault.destroy(auth!.actor, vault.owned(params.id, auth!.user), 'by its owner');
      if (!r.verified) throw new HttpError(500, `vault session ${params.id}: destroyed, but ${r.leftovers.length} file(s) still carry its id`);
      return { objects: r.objects, keyErased: r.keyErased, verified: r.verified, leftovers: r.leftovers.length };
    },
  );
}
