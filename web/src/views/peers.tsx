/**
 * WireGuard peers of the spec's tunnels: the active ones, create (the client config and its QR code
 * are shown this once: the server keeps no private key), revoke (asks to confirm first).
 */
import { useEffect, useState } from 'preact/hooks';
import { call, versionPath, type Peer, type PeerCreated, type Topology } from '../api';
import type { SpecRef } from '../main';
import { ErrorBox, Loading, useLoad } from '../ui';

export function PeersView({ spec }: { spec: SpecRef }) {
  // Peers belong to the tunnels of the spec's latest version (as the server reads them), whatever version is chosen.
  const latest = spec.versions[spec.versions.length - 1]?.version ?? spec.version;
  const topo = useLoad(() => call<Topology>('GET', `${versionPath(spec.id, latest)}/topology`), [spec.id, latest]);
  const tunnels = topo.data?.tunnels ?? [];
  const [tunnel, setTunnel] = useState<string | undefined>();
  const chosen = tunnel ?? tunnels[0]?.name;
  const [peers, setPeers] = useState<Peer[] | undefined>();
  const [created, setCreated] = useState<PeerCreated | undefined>();
  const [confirming, setConfirming] = useState<number | undefined>();
  const [error, setError] = useState<unknown>();
  const [name, setName] = useState('');
  const base = chosen && `/api/specs/${spec.id}/tunnels/${encodeURIComponent(chosen)}/peers`;

  const reload = async () => {
    if (!base) return;
    try {
      setPeers(await call<Peer[]>('GET', base));
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    setPeers(undefined);
    setCreated(undefined);
    void reload();
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
              <th scope="col">Public key</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {peers.map((p) => (
              <tr key={p.id}>
                <td>{p.name}</td>
                <td>
                  <code>{p.address}</code>
                </td>
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
