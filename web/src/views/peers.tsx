/**
 * WireGuard peers of the spec's tunnels: the active ones with their last handshake, transfer and
 * endpoint as the running interface reports them (re-read every few seconds, so a client coming up
 * shows without a reload), create (the client config and its QR code are shown this once: the
 * server keeps no private key), revoke (asks to confirm first).
 */
import { useEffect, useState } from 'preact/hooks';
import { call, callFull, versionPath, type PeerCreated, type PeerListed, type Topology } from '../api';
import type { SpecRef } from '../main';
import { ErrorBox, Loading, useLoad } from '../ui';

/** How often the list is re-read: a handshake shows within this long (the server runs `wg show` per read, about 5 ms). */
export const PEERS_REFRESH_MS = 3000;

/** Where the handshakes come from, as the server's X-Cordon-WireGuard header says. */
type WgState = 'live' | 'not-configured' | 'unreadable';

const WG_STATE_TEXT: Record<WgState, string> = {
  live: 'Handshakes and transfer as the running interface reports them, re-read every few seconds.',
  'not-configured': 'This server applies no peer changes to a running interface (cordon serve --wireguard-netns), so there are no handshakes to show.',
  unreadable: 'The running interface could not be read (see the server log): handshakes and transfer are unknown.',
};

/** 1536 → "1.5 KiB": transfer at a glance (the exact count is in the cell's title). */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = n;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${x.toFixed(1)} ${units[i]}`;
}

/** "42 s ago", "3 min ago", "2 h ago", "5 d ago". */
export function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.floor(s / 60)} min ago`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function PeersView({ spec }: { spec: SpecRef }) {
  // Peers belong to the tunnels of the spec's latest version (as the server reads them), whatever version is chosen.
  const latest = spec.versions[spec.versions.length - 1]?.version ?? spec.version;
  const topo = useLoad(() => call<Topology>('GET', `${versionPath(spec.id, latest)}/topology`), [spec.id, latest]);
  const tunnels = topo.data?.tunnels ?? [];
  const [tunnel, setTunnel] = useState<string | undefined>();
  const chosen = tunnel ?? tunnels[0]?.name;
  const [peers, setPeers] = useState<PeerListed[] | undefined>();
  const [wg, setWg] = useState<WgState | undefined>();
  const [readAt, setReadAt] = useState(0);
  const [created, setCreated] = useState<PeerCreated | undefined>();
  const [confirming, setConfirming] = useState<number | undefined>();
  const [error, setError] = useState<unknown>();
  const [name, setName] = useState('');
  const base = chosen && `/api/specs/${spec.id}/tunnels/${encodeURIComponent(chosen)}/peers`;

  const reload = async () => {
    if (!base) return;
    try {
      const r = await callFull<PeerListed[]>('GET', base);
      setPeers(r.data);
      const h = r.headers.get('x-cordon-wireguard');
      setWg(h === 'live' || h === 'unreadable' ? h : 'not-configured');
      setReadAt(Date.now());
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    setPeers(undefined);
    setCreated(undefined);
    void reload();
    const timer = setInterval(() => void reload(), PEERS_REFRESH_MS);
    return () => clearInterval(timer);
  }, [base]);

  const create = async (e: Event) => {
    e.preventDefault();
    if (!base) return;
    setError(undefined);
    try {
      setCreated(await call<PeerCreated>('POST', base, { name }));
      setName('');
      await reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (id: number) => {
    if (!base) return;
    setError(undefined);
    try {
      await call('DELETE', `${base}/${id}`);
      setConfirming(undefined);
      await reload();
    } catch (err) {
      setError(err);
    }
  };

  if (topo.error) return <ErrorBox error={topo.error} />;
  if (!topo.data) return <Loading />;
  if (tunnels.length === 0) return <p>This spec declares no WireGuard tunnel (tunnels:).</p>;
  return (
    <div class="peers">
      <div class="form-row">
        <label>
          Tunnel{' '}
          <select value={chosen} onChange={(e) => setTunnel((e.target as HTMLSelectElement).value)}>
            {tunnels.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name} ({t.cidr}, server {t.server})
              </option>
            ))}
          </select>
        </label>
      </div>
      <form class="form-row" onSubmit={(e) => void create(e)}>
        <label>
          New peer name{' '}
          <input
            required
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,99}"
            title="letters, digits, dot, dash and underscore, starting with a letter or digit"
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Create peer</button>
      </form>
      <ErrorBox error={error} />
      {wg && (
        <p class="muted" data-wireguard={wg}>
          {WG_STATE_TEXT[wg]}
        </p>
      )}
      {created && (
        <section class="created" aria-labelledby="created-title">
          <h2 id="created-title">
            Peer {created.name} created: {created.address}
          </h2>
          <p>
            <strong>Shown this once.</strong> The server does not keep the private key: scan the code or copy the config now.
          </p>
          <img src={`data:image/png;base64,${created.qrPng}`} alt={`QR code of the WireGuard config for ${created.name}`} />
          <pre tabIndex={0} aria-label="Client config">
            {created.clientConfig}
          </pre>
          <button type="button" onClick={() => setCreated(undefined)}>
            Done, hide it
          </button>
        </section>
      )}
      {!peers ? (
        <Loading />
      ) : peers.length === 0 ? (
        <p>No active peers on {chosen}.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Address</th>
              <th scope="col">Last handshake</th>
              <th scope="col">Transfer</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Public key</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {peers.map((p) => (
              <tr key={p.id} data-peer={p.name}>
                <td>{p.name}</td>
                <td>
                  <code>{p.address}</code>
                </td>
                <td class="handshake">
                  {p.lastHandshake ? (
                    <time dateTime={p.lastHandshake} title={p.lastHandshake}>
                      {ago(p.lastHandshake, readAt)}
                    </time>
                  ) : (
                    <span class="muted">{wg === 'live' ? 'never' : 'unknown'}</span>
                  )}
                </td>
                <td class="transfer" data-rx={p.rxBytes} data-tx={p.txBytes} title={`${p.rxBytes} bytes received, ${p.txBytes} bytes sent`}>
                  ↓ {bytes(p.rxBytes)} ↑ {bytes(p.txBytes)}
                </td>
                <td>{p.endpoint ? <code>{p.endpoint}</code> : <span class="muted">–</span>}</td>
                <td>
                  <code>{p.publicKey}</code>
                </td>
                <td>
                  {p.createdAt.replace('T', ' ').slice(0, 16)} by {p.createdBy}
                </td>
                <td>
                  {confirming === p.id ? (
                    <>
                      <button type="button" onClick={() => void revoke(p.id)}>
                        Confirm revoke {p.name}
                      </button>{' '}
                      <button type="button" onClick={() => setConfirming(undefined)}>
                        Cancel
                      </button>
                    </>
                  ) : (
                    <button type="button" onClick={() => setConfirming(p.id)}>
                      Revoke {p.name}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
