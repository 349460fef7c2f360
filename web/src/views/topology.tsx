import type { SpecRef } from '../main';

export function TopologyView(_props: { spec?: SpecRef }) {
  return <p>Not yet.</p>;
}
