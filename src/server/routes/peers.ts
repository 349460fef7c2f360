/**
 * WireGuard peers for a spec's tunnels: create (server-made key pair, or the caller's public key;
 * the next free address of the tunnel's subnet), list, revoke. Every change rewrites the hub's
 * config under `<data>/wireguard/` (0600, atomically) inside the database transaction. Seed 002's
 * `POST /api/wireguard/new-peer` is kept as an alias of create.
 *
 * With `wireguardNetns` set, each change is applied to the running hub interface with `wg syncconf`.
 * Not yet: handshake and transfer in the list, expiry, quotas.
 */
import { renameSync, rmSync } from 'node:fs';
import QRCode from 'qrcode';
import type { Tunnel } from '../../model/types.js';
import { formatIPv4 } from '../../util/ip.js';
import { unknownNameHint } from '../../util/suggest.js';
import { generateWgKeyPair } from '../../util/wgkey.js';
import { compileText, Refusal } from '../analysis.js';
import type { ServerSettings } from '../config.js';
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import { NewPeerBody, PeerCreateBody, PeerCreated, PeerParams, PeerSchema, TunnelParams } from '../schemas.js';
import type { Actor, Store, WgPeer } from '../store.js';
import {
  clientConfigText,
  hubConfigText,
  hubKeyPair,
  nextFreeAddress,
  specAddresses,
  syncConf,
  tunnelFiles,
  writeFileAtomic0600,
  writeTemp0600,
} from '../wireguard.js';

const peerJson = (p: WgPeer) => ({ ...p, address: formatIPv4(p.address) });

export function peerRoutes(api: Api, store: Store, settings: ServerSettings): void {
  /** The tunnel as the spec's latest version declares it, and the addresses the spec itself uses there. */
  const tunnelOf = (specId: number, name: string): { specName: string; tunnel: Tunnel; taken: number[] } => {
    const spec = store.spec(specId);
    if (!spec) throw new HttpError(404, `no spec with id ${specId}`);
    let c;
    try {
      c = compileText(store.specVersion(specId, spec.latestVersion)!.text, spec.name);
    } catch (e) {
      if (e instanceof Refusal) throw new HttpError(400, e.message, { diagnostics: e.diagnostics });
      throw e;
    }
    const tunnel = c.ir.model.tunnels.get(name);
    if (!tunnel) throw new HttpError(404, `spec '${spec.name}' has no tunnel '${name}' (${unknownNameHint(name, [...c.ir.model.tunnels.keys()])})`);
    return { specName: spec.name, tunnel, taken: specAddresses(c.ir.model, tunnel) };
  };

  const writeHub = (specId: number, specName: string, tunnel: Tunnel) => (peers: WgPeer[]) => {
    const files = tunnelFiles(settings.dataDir, specId, tunnel.name);
    const text = hubConfigText(specName, tunnel, hubKeyPair(files), peers);
    if (settings.wireguardNetns === undefined) return writeFileAtomic0600(files.conf, text);
    // Applied from the temporary file, published only when the interface took it; inside the
    // transaction, so a refused config also undoes the peer change: file, interface and database agree.
    const tmp = writeTemp0600(files.conf, text);
    const failed = syncConf(settings.wireguardNetns, tunnel.ifname, tmp);
    if (failed) {
      rmSync(tmp, { force: true });
      throw new HttpError(502, `could not apply the peers to ${tunnel.ifname} in namespace ${settings.wireguardNetns}: ${failed}`);
    }
    renameSync(tmp, files.conf);
  };

  const create = async (actor: Actor, specId: number, tunnelName: string, name: string, publicKey: string | undefined) => {
    const { specName, tunnel, taken } = tunnelOf(specId, tunnelName);
    if (store.activePeers(specId, tunnel.name).some((p) => p.name === name))
      throw new HttpError(409, `tunnel ${tunnel.name} already has an active peer '${name}'`);
    const pair = publicKey === undefined ? generateWgKeyPair() : undefined;
    const peer = store.addPeer(
      actor,
      { specId, tunnel: tunnel.name, name, publicKey: publicKey ?? pair!.publicKey },
      (used) => {
        const a = nextFreeAddress(tunnel, new Set([...taken, ...used]));
        if (a === undefined) throw new HttpError(409, `tunnel ${tunnel.name} has no free address left`);
        return a;
      },
      writeHub(specId, specName, tunnel),
    );
    const hub = hubKeyPair(tunnelFiles(settings.dataDir, specId, tunnel.name));
    const clientConfig = clientConfigText(tunnel, hub.publicKey, peer.address, pair?.privateKey);
    const [qrSvg, qrPng] = await Promise.all([QRCode.toString(clientConfig, { type: 'svg' }), QRCode.toBuffer(clientConfig, { type: 'png' })]);
    return { ...peerJson(peer), clientConfig, qrSvg, qrPng: qrPng.toString('base64') };
  };

  api.route(
    {
      method: 'POST',
      url: '/api/specs/:id/tunnels/:tunnel/peers',
      summary: 'create a WireGuard peer: key pair (or yours), next free address; the client config and QR codes are in this answer only',
      tag: 'wireguard',
      auth: 'peers:write',
      params: TunnelParams,
      body: PeerCreateBody,
      responses: { 201: { description: 'created', schema: PeerCreated }, 409: { description: 'the name is taken or the subnet is full' } },
    },
    async ({ params, body, auth, reply }) => {
      const r = await create(auth!.actor, params.id, params.tunnel, body.name, body.publicKey);
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
      const r = await create(auth!.actor, body.specId, body.tunnel, body.name, body.publicKey);
      reply.code(201);
      return r;
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/tunnels/:tunnel/peers',
      summary: "a tunnel's active peers (no private keys, ever)",
      tag: 'wireguard',
      auth: 'specs:read',
      params: TunnelParams,
      responses: { 200: { description: 'peers', schema: PeerSchema.array() } },
    },
    ({ params }) => {
      const { tunnel } = tunnelOf(params.id, params.tunnel);
      return store.activePeers(params.id, tunnel.name).map(peerJson);
    },
  );

  api.route(
    {
      method: 'DELETE',
      url: '/api/specs/:id/tunnels/:tunnel/peers/:peer',
      summary: "revoke a peer: it leaves the hub's config",
      tag: 'wireguard',
      auth: 'peers:write',
      params: PeerParams,
      responses: { 200: { description: 'revoked', schema: PeerSchema } },
    },
    ({ params, auth }) => {
      const { specName, tunnel } = tunnelOf(params.id, params.tunnel);
      const p = store.peer(params.peer);
      if (!p || p.specId !== params.id || p.tunnel !== tunnel.name || p.revoked)
        throw new HttpError(404, `tunnel ${tunnel.name} has no active peer with id ${params.peer}`);
      return peerJson(store.revokePeer(auth!.actor, p.id, writeHub(params.id, specName, tunnel))!);
    },
  );
}
