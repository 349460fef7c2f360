/**
 * Which paths --ro, --rw and --workdir may bind. The root is already visible read-only, so binding
 * `/` or a system directory can only make the machine writable (`--rw /` wrote into the host's
 * /etc) or replace what the sandbox itself mounts (/proc, /dev, /tmp, /run): both are refused.
 * Writable paths are therefore the work dir, or directories named explicitly outside the system tree.
 */
import { within } from './hidden.js';

export const SYSTEM_DIRS: readonly string[] = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/var',
];

/** Inside these (not the directories themselves) is the user's own space, not the system's. */
export const USER_SPACE_IN_SYSTEM: readonly string[] = ['/var/tmp'];

/** Why `path` (absolute, symlinks resolved) may not be bound by `flag`; undefined = it may. */
export function refuseBind(flag: string, path: string, shown: string): string | undefined {
  if (path === '/')
    return `${flag} ${shown}: refusing to bind the whole root — it is already visible read-only; bind the directories the command needs (writable ones outside ${SYSTEM_DIRS.slice(0, 4).join(', ')}, …)`;
  if (USER_SPACE_IN_SYSTEM.some((d) => path !== d && within(path, d))) return undefined;
  const sys = SYSTEM_DIRS.find((d) => within(path, d));
  if (sys !== undefined) {
    return `${flag} ${shown}: ${path === sys ? `${sys} is a system directory` : `${path} is inside the system directory ${sys}`}; the root is already visible read-only, and the sandbox never writes to or replaces system directories (use a directory under the work dir or outside ${SYSTEM_DIRS.join(', ')})`;
  }
  return undefined;
}
