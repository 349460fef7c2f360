import type { SpecRef } from '../main';

export function AuditView(_props: { spec?: SpecRef }) {
  return <p>Not yet.</p>;
}
