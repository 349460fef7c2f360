import type { SpecRef } from '../main';

export function ChecksView(_props: { spec?: SpecRef }) {
  return <p>Not yet.</p>;
}
