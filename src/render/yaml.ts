/**
 * YAML bodies for the targets whose output is YAML (netplan, kubernetes). The document is built as
 * plain data with keys in the order they should appear and serialised by the `yaml` library with
 * fixed options, so quoting is always right and the bytes are stable; the Emitter adds the header.
 * YAML 1.1 rules decide the quoting, because netplan (libyaml) and Kubernetes (go-yaml) read
 * `yes`, `on` or `off` unquoted as booleans.
 */
import { stringify } from 'yaml';

/** The library's options for every YAML document cordon writes (the kubernetes writer asks it per scalar with the same). */
export const YAML_OPTIONS = {
  indent: 2,
  indentSeq: true,
  lineWidth: 0,
  minContentWidth: 0,
  singleQuote: false,
  aliasDuplicateObjects: false,
  version: '1.1',
} as const;

/** One YAML document as lines (no `---`, no trailing newline). */
export function yamlLines(value: unknown): string[] {
  const text = stringify(value, YAML_OPTIONS);
  return text.replace(/\n+$/, '').split('\n');
}
