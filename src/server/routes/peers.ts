/**
 * WireGuard peers for a spec's tunnels: create (server-made key pair, or the caller's public key;
 * the next free address of the tunnel's subnet; optionally an expiry), list (with each peer's last
 * handshake and transfer from the running interface), revoke. The work is PeerService's
 * (../peers.ts); seed 002's `POST /api/wireguard/new-peer` is kept as an alias of create.
 */
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import { peerJson, type PeerService } from '../peers.js';
import { NewPeerBody, PeerCreateBody, PeerCreated, PeerListed, PeerParams, PeerSchema, TunnelParams } from '../schemas.js';

export function peerRoutes(api: Api, peers: PeerService): void {
  api.route(
    {
      method: 'POST',
      url: '/api/specs/:id/tunnels/:tunnel/peers',
      summary: 'create a WireGuard peer: key pair (or yours), next free address, optional expiry; the client config and QR codes are in this answer only',
      tag: 'wireguard',
      auth: 'peers:write',
      params: TunnelParams,
      body: PeerCreateBody,
      responses: {
        201: { description: 'created', schema: PeerCreated },
        403: { description: "the account's tier has no peer left in its quota" },
        409: { description: 'the name is taken or the subnet is full' },
      },
    },
    async ({ params, body, auth, reply }) => {
      const r = await peers.create(auth!.actor, auth!.user, params.id, params.tunnel, body.name, body.publicKey, body.expires);
      reply.code(201);
      return r;
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/wireguard/new-peer',
      summary: "seed 002's name for creating a peer (the same as POST /api/specs/{id}/tunnels/{tunnel}/peers)",
      tag: 'wireguard',
      auth: 'peers:write',
      body: NewPeerBody,
      responses: { 201: { description: 'created', schema: PeerCreated } },
    },
    async ({ body, auth, reply }) => {
      const r = await peers.create(auth!.actor, auth!.user, body.specId, body.tunnel, body.name, body.publicKey, body.expires);
      reply.code(201);
      return r;
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/tunnels/:tunnel/peers',
      summary:
        "a tunnel's active peers with their last handshake and transfer from `wg show IF dump` (no private keys, ever); header X-Cordon-WireGuard says live, not-configured or unreadable",
      tag: 'wireguard',
      auth: 'specs:read',
      params: TunnelParams,
      responses: { 200: { description: 'peers', schema: PeerListed.array() } },
    },
    ({ params, reply }) => {
      const r = peers.list(params.id, params.tunnel);
      reply.header('x-cordon-wireguard', r.live ? 'live' : r.liveError ? 'unreadable' : 'not-configured');
      if (r.liveError) reply.request.log.warn({ wireguard: r.liveError }, 'peer status unavailable');
      return r.peers;
    },
  );

  api.route(
    {
      method: 'DELETE',
      url: '/api/specs/:id/tunnels/:tunnel/peers/:peer',
      summary: "revoke a peer: it leaves the hub's config and the running interface (wg syncconf); others may revoke only their own peers, admins any",
      tag: 'wireguard',
      auth: 'peers:write',
      params: PeerParams,
      responses: { 200: { description: 'revoked', schema: PeerSchema } },
    },
    ({ params, auth }) => {
      if (!auth) throw new HttpError(401, 'authentication required');
      return peerJson(peers.revoke(auth.actor, auth.user, params.id, params.tunnel, params.peer));
    },
  );
}
