import type { SpecRef } from '../main';

export function LiveView(_props: { spec?: SpecRef }) {
  return <p>Not yet.</p>;
}
