import type { SpecRef } from '../main';

export function PeersView(_props: { spec?: SpecRef }) {
  return <p>Not yet.</p>;
}
