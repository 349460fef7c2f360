import type { SpecRef } from '../main';

export function DiffView(_props: { spec?: SpecRef }) {
  return <p>Not yet.</p>;
}
