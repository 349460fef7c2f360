/**
 * What a sandbox never sees. Two lists, both bound over (an empty read-only tmpfs for a directory,
 * /dev/null for a file or socket) after every other bind, so no --ro/--rw can uncover them:
 *
 * - cordon's own state (`stateCandidates`): the vault store and its master key, apply snapshots,
 *   WireGuard key stores, lab and sandbox state, other sandboxes' decrypted vault mounts. Always
 *   hidden, whatever the flags; --ro/--rw/--workdir inside one is refused. A vault session reaches
 *   a sandbox only through --vault (decrypted, read-only, one session).
 * - secrets (`secretCandidates`): the machine's password hashes and private keys, and per home
 *   (the invoking user's, root's, and SUDO_USER's) shell histories, credential stores of common
 *   tools, password stores, browser profiles, agent and control sockets. `--show PATH` passes one
 *   of them back in.
 *
 * Pure: the caller passes homes, environment and directory listings in.
 */
import { isAbsolute, join, resolve } from 'node:path';

/** Relative to a home directory. A directory hides everything in it. */
export const HOME_SECRETS: readonly string[] = [
  // keys, agents and generic credential files
  '.ssh',
  '.gnupg',
  '.netrc',
  '.pki',
  '.vault-token',
  // shell and REPL histories
  '.bash_history',
  '.zsh_history',
  '.zhistory',
  '.histfile',
  '.sh_history',
  '.ash_history',
  '.local/share/fish/fish_history',
  '.python_history',
  '.node_repl_history',
  '.psql_history',
  '.mysql_history',
  '.sqlite_history',
  '.rediscli_history',
  '.lesshst',
  '.viminfo',
  // cloud CLIs
  '.aws',
  '.azure',
  '.config/gcloud',
  '.oci',
  '.config/doctl',
  '.config/hcloud',
  '.terraform.d',
  '.s3cfg',
  '.boto',
  '.config/rclone',
  '.config/openstack',
  // containers and clusters
  '.docker',
  '.config/containers/auth.json',
  '.kube',
  '.minikube',
  '.config/helm',
  // git and forges
  '.gitconfig',
  '.git-credentials',
  '.config/git',
  '.config/gh',
  '.config/hub',
  '.config/glab-cli',
  // package registries
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.pypirc',
  '.config/pip',
  '.pip',
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.gem/credentials',
  '.m2/settings.xml',
  '.m2/settings-security.xml',
  '.gradle/gradle.properties',
  '.nuget/NuGet/NuGet.Config',
  '.config/composer/auth.json',
  '.composer/auth.json',
  // password stores and keyrings
  '.password-store',
  '.local/share/keyrings',
  '.local/share/kwalletd',
  '.config/Bitwarden CLI',
  '.config/op',
  '.op',
  // browser and mail profiles
  '.mozilla',
  '.librewolf',
  '.thunderbird',
  '.config/google-chrome',
  '.config/chromium',
  '.config/BraveSoftware',
  '.config/microsoft-edge',
  '.config/vivaldi',
  '.config/opera',
];

/** Absolute: password hashes, host keys, VPN and Wi-Fi secrets, and sockets that control the machine. */
export const SYSTEM_SECRETS: readonly string[] = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/security/opasswd',
  '/etc/ssl/private',
  '/etc/wireguard',
  '/etc/NetworkManager/system-connections',
  '/etc/pve/priv',
  // The command runs as uid 0 in its user namespace, and a peer's uid 0 is what these daemons trust.
  '/run/user',
  '/run/dbus',
  '/run/systemd/private',
  '/run/docker.sock',
  '/run/containerd',
  '/run/podman',
  '/run/crio',
  '/run/libvirt',
  '/run/wireguard',
];

/** /etc/ssh/ssh_host_*_key (private halves only), given the names in /etc/ssh. */
export function hostKeys(etcSsh: readonly string[]): string[] {
  return etcSsh.filter((n) => /^ssh_host_.*_key$/.test(n)).map((n) => join('/etc/ssh', n));
}

export interface HiddenContext {
  /** Every home to protect (the invoking user's, root's, SUDO_USER's). */
  readonly homes: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** cordon's working directory and the sandbox's (apply snapshots and key stores live in `.cordon/` there). */
  readonly dirs: readonly string[];
  /** Names in /etc/ssh. */
  readonly etcSsh: readonly string[];
  /** Entries of the temp directories that hold other sandboxes' vault mounts: absolute paths. */
  readonly tmpEntries: readonly string[];
  /** `--vault` options naming another vault root or master key file. */
  readonly vaultPaths: readonly string[];
}

/** Sandbox state (teardown.ts stateDir) and lab state (lab/state.ts LAB_ROOT) live here. */
export const RUN_STATE = ['/run/cordon', '/run/cordon-lab'];

/** Variables naming where cordon keeps state (the vault, apply snapshots, sandbox state): hidden too. */
export const STATE_ENV: readonly string[] = ['CORDON_VAULT_DIR', 'CORDON_STATE_DIR', 'CORDON_SANDBOX_STATE_DIR'];

/** Relative to a home directory: cordon's own (the vault's default root is under .local/share/cordon). */
export const HOME_STATE: readonly string[] = ['.local/share/cordon', '.cordon'];

/** cordon's own state: never visible in a sandbox. */
export function stateCandidates(c: HiddenContext): string[] {
  const out = [...RUN_STATE];
  // The vault's default root is <home>/.local/share/cordon/vault (vault/store.ts vaultRoot); all of
  // <home>/.local/share/cordon is cordon's.
  for (const h of c.homes) out.push(...HOME_STATE.map((s) => join(h, s)));
  // apply snapshots (.cordon/apply) and WireGuard key stores (.cordon/keys) are relative to the cwd.
  for (const d of c.dirs) out.push(join(d, '.cordon'));
  for (const v of STATE_ENV) {
    const p = c.env[v];
    if (p !== undefined && p !== '') out.push(resolve(c.dirs[0] ?? '/', p));
  }
  out.push(...c.vaultPaths);
  // Other sandboxes' decrypted sessions (vault/mount.ts: <tmp>/cordon-vault-*, /dev/shm/cordon-vault-*).
  out.push(...c.tmpEntries.filter((p) => /\/cordon-vault-[^/]+$/.test(p)));
  return uniq(out.filter(isAbsolute));
}

/** Secrets hidden unless --show names them. */
export function secretCandidates(c: HiddenContext): string[] {
  const out = [...SYSTEM_SECRETS, ...hostKeys(c.etcSsh)];
  for (const h of c.homes) for (const s of HOME_SECRETS) out.push(join(h, s));
  const agent = c.env.SSH_AUTH_SOCK;
  if (agent !== undefined && isAbsolute(agent)) out.push(agent);
  const gpg = c.env.GPG_AGENT_INFO?.split(':')[0];
  if (gpg !== undefined && isAbsolute(gpg)) out.push(gpg);
  return uniq(out);
}

/** True when `p` is `dir` or lies inside it. */
export function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Drops paths that lie inside another one of the list (hiding the parent hides them). */
export function outermost(paths: readonly string[]): string[] {
  const sorted = uniq(paths).sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && within(p, q)));
}

/** The home directory of `user` in passwd(5) text. */
export function homeOf(passwd: string, user: string): string | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 7 && f[5]) return f[5];
  }
  return undefined;
}

function uniq(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}
