/**
 * WireGuard peers as one service used by the routes and by the expiry sweep: find the tunnel in
 * the spec's latest version, add or revoke a peer with the hub's config rewritten (and applied with
 * `wg syncconf` when a namespace is configured) inside the same database transaction, read each
 * peer's handshake and transfer from the running interface, and revoke peers whose time is up.
 */
import { renameSync, rmSync } from 'node:fs';
import QRCode from 'qrcode';
import type { Tunnel } from '../model/types.js';
import { formatIPv4 } from '../util/ip.js';
import { unknownNameHint } from '../util/suggest.js';
import { generateWgKeyPair } from '../util/wgkey.js';
import { Refusal } from './analysis.js';
import type { CompileCache } from './compile-cache.js';
import type { ServerSettings } from './config.js';
import { HttpError } from './errors.js';
import type { Actor, Store, User, WgPeer } from './store.js';
import {
  clientConfigText,
  hubConfigText,
  hubKeyPair,
  nextFreeAddress,
  specAddresses,
  syncConf,
  tunnelFiles,
  wgDump,
  writeFileAtomic0600,
  writeTemp0600,
  type PeerStatus,
} from './wireguard.js';

/** A peer as the API shows it: the address as text; never the owner's id. */
export function peerJson(p: WgPeer) {
  return {
    id: p.id,
    specId: p.specId,
    tunnel: p.tunnel,
    name: p.name,
    address: formatIPv4(p.address),
    publicKey: p.publicKey,
    createdBy: p.createdBy,
    createdAt: p.createdAt,
    revoked: p.revoked,
    expiresAt: p.expiresAt,
  };
}

export class PeerService {
  constructor(
    private readonly store: Store,
    private readonly settings: ServerSettings,
    private readonly cache: CompileCache,
  ) {}

  /** The tunnel as the spec's latest version declares it, and the addresses the spec itself uses there. */
  tunnelOf(specId: number, name: string): { specName: string; tunnel: Tunnel; taken: number[] } {
    const spec = this.store.spec(specId);
    if (!spec) throw new HttpError(404, `no spec with id ${specId}`);
    let c;
    try {
      c = this.cache.get(specId, spec.name, spec.latestVersion);
    } catch (e) {
      if (e instanceof Refusal) throw new HttpError(400, e.message, { diagnostics: e.diagnostics });
      throw e;
    }
    const tunnel = c.ir.model.tunnels.get(name);
    if (!tunnel) throw new HttpError(404, `spec '${spec.name}' has no tunnel '${name}' (${unknownNameHint(name, [...c.ir.model.tunnels.keys()])})`);
    return { specName: spec.name, tunnel, taken: specAddresses(c.ir.model, tunnel) };
  }

  /** Writes (and applies) the hub's config for `peers`; throws, undoing the transaction it runs in, when the interface refuses it. */
  private writeHub = (specId: number, specName: string, tunnel: Tunnel) => (peers: WgPeer[]) => {
    const files = tunnelFiles(this.settings.dataDir, specId, tunnel.name);
    const text = hubConfigText(specName, tunnel, hubKeyPair(files), peers);
    const netns = this.settings.wireguardNetns;
    if (netns === undefined) return writeFileAtomic0600(files.conf, text);
    // Applied from the temporary file, published only when the interface took it; inside the
    // transaction, so a refused config also undoes the peer change: file, interface and database agree.
    const tmp = writeTemp0600(files.conf, text);
    const failed = syncConf(netns, tunnel.ifname, tmp);
    if (failed) {
      rmSync(tmp, { force: true });
      throw new HttpError(502, `could not apply the peers to ${tunnel.ifname} in namespace ${netns}: ${failed}`);
    }
    renameSync(tmp, files.conf);
  };

  async create(actor: Actor, owner: User, specId: number, tunnelName: string, name: string, publicKey: string | undefined, expiresAt: string | undefined) {
    const { specName, tunnel, taken } = this.tunnelOf(specId, tunnelName);
    if (expiresAt !== undefined && Date.parse(expiresAt) <= Date.now())
      throw new HttpError(400, `expires ${expiresAt} is not in the future`, { issues: [{ path: 'body.expires', message: 'must be a time in the future' }] });
    const quota = this.settings.quotas[owner.tier].peers;
    const have = this.store.activePeersOf(owner.id);
    if (have >= quota)
      throw new HttpError(
        403,
        `account '${owner.name}' (tier ${owner.tier}) has ${have} active peer${have === 1 ? '' : 's'}, its quota is ${quota}; revoke one first`,
      );
    if (this.store.activePeers(specId, tunnel.name).some((p) => p.name === name))
      throw new HttpError(409, `tunnel ${tunnel.name} already has an active peer '${name}'`);
    const pair = publicKey === undefined ? generateWgKeyPair() : undefined;
    const peer = this.store.addPeer(
      actor,
      { specId, tunnel: tunnel.name, name, publicKey: publicKey ?? pair!.publicKey, expiresAt, ownerId: owner.id },
      (used) => {
        const a = nextFreeAddress(tunnel, new Set([...taken, ...used]));
        if (a === undefined) throw new HttpError(409, `tunnel ${tunnel.name} has no free address left`);
        return a;
      },
      this.writeHub(specId, specName, tunnel),
    );
    const hub = hubKeyPair(tunnelFiles(this.settings.dataDir, specId, tunnel.name));
    const clientConfig = clientConfigText(tunnel, hub.publicKey, peer.address, pair?.privateKey);
    const [qrSvg, qrPng] = await Promise.all([QRCode.toString(clientConfig, { type: 'svg' }), QRCode.toBuffer(clientConfig, { type: 'png' })]);
    return { ...peerJson(peer), clientConfig, qrSvg, qrPng: qrPng.toString('base64') };
  }

  /** Active peers with what the running interface says of each (nulls and zeros when no namespace is configured, or the interface is down). */
  list(specId: number, tunnelName: string) {
    const { tunnel } = this.tunnelOf(specId, tunnelName);
    const netns = this.settings.wireguardNetns;
    const dump = netns === undefined ? undefined : wgDump(netns, tunnel.ifname);
    const status = dump && 'peers' in dump ? dump.peers : undefined;
    const none: PeerStatus = { lastHandshake: null, rxBytes: 0, txBytes: 0, endpoint: null };
    return {
      peers: this.store.activePeers(specId, tunnel.name).map((p) => ({ ...peerJson(p), ...(status?.get(p.publicKey) ?? none) })),
      live: status !== undefined,
      ...(dump && 'error' in dump ? { liveError: `wg show ${tunnel.ifname} in namespace ${netns}: ${dump.error}` } : {}),
    };
  }

  /** Revokes one active peer of the tunnel; a non-administrator may revoke only the peers they made. */
  revoke(actor: Actor, caller: User, specId: number, tunnelName: string, peerId: number): WgPeer {
    const { specName, tunnel } = this.tunnelOf(specId, tunnelName);
    const p = this.store.peer(peerId);
    // Someone else's peer is reported as unknown, as tokens are: ids are not to be probed.
    if (!p || p.specId !== specId || p.tunnel !== tunnel.name || p.revoked || (caller.tier !== 'admin' && p.ownerId !== caller.id))
      throw new HttpError(404, `tunnel ${tunnel.name} has no active peer with id ${peerId}${caller.tier === 'admin' ? '' : ' of yours'}`);
    return this.store.revokePeer(actor, p.id, this.writeHub(specId, specName, tunnel))!;
  }

  /**
   * Revokes every peer whose expiry has passed: out of the hub's config (and the interface) and
   * marked revoked, one transaction each, audited as `peer.expire` by `system:expiry`. A peer whose
   * tunnel is gone from the spec is only marked; one whose config the interface refuses stays, and
   * the next sweep tries again. Returns what it did, for the log.
   */
  expireDue(now: Date = new Date()): { expired: string[]; failed: string[] } {
    const expired: string[] = [];
    const failed: string[] = [];
    for (const p of this.store.expiredPeers(now.toISOString())) {
      const label = `${p.specId}/${p.tunnel}/${p.name}`;
      try {
        let write: (peers: WgPeer[]) => void = () => undefined;
        try {
          const { specName, tunnel } = this.tunnelOf(p.specId, p.tunnel);
          write = this.writeHub(p.specId, specName, tunnel);
        } catch (e) {
          if (!(e instanceof HttpError) || e.status !== 404) throw e;
        }
        this.store.revokePeer('system:expiry', p.id, write, 'peer.expire');
        expired.push(label);
      } catch (e) {
        failed.push(`${label}: ${(e as Error).message}`);
      }
    }
    return { expired, failed };
  }
}
