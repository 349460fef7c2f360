/**
 * The fast launcher: `cordon run -- CMD` (isolated, rootless, no other flag) without Node. Node's
 * start, the run command's modules and the planning cost ~250 of the ~340 ms CPU that run takes
 * on a loaded machine, against ~90 for the process chain itself (BENCHMARKS.md); this default,
 * most frequent case does not need them. `make build` writes a POSIX shell fragment
 * (dist/fast/run.sh) that bin/cordon sources for exactly that command line.
 *
 * One source of truth: everything that is policy comes from the code the Node path runs, here at
 * build time — the whole command line (planSandbox: setpriv, `unshare --user --net`, the inline
 * network script with the egress policy, bwrap's flags), the seccomp filter (a file bwrap reads on
 * the same fd), the lists of hidden paths (hidden.ts, with their per-home and per-directory
 * forms), the environment allowlist (env.ts), the system directories a work dir may not be
 * (paths.ts) and the summary lines (the CLI's own `summary`, passed in by the build step). What
 * the shell does itself is only what depends on the machine at run time, the same steps
 * options.ts takes: which candidates exist, where symlinks point, directory or file, the
 * outermost of nested ones, the work dir's refusal, which variables are set. The parity test
 * (test/sandbox-launcher.test.ts) runs the same probes under both paths and compares.
 *
 * Anything out of the ordinary returns to the Node path before anything is changed: root, a
 * missing tool, a dead run's state to clean up, a path that Node would normalise (`//`, `..`, a
 * relative one), a newline in a path, a work dir Node would refuse, another architecture. After
 * the command, the shell prints the summary itself only when nothing was counted (nothing left
 * the command, nothing was denied); otherwise, or when the set-up failed, Node formats the report
 * from the same table (src/cli/fast-report.ts), as the Node path would have.
 *
 * Pure: returns text.
 */
import { ENV_ALLOW, ENV_ALLOW_PREFIX } from './env.js';
import { HOME_SECRETS, HOME_STATE, RUN_STATE, STATE_ENV, SYSTEM_SECRETS } from './hidden.js';
import { SYSTEM_DIRS, USER_SPACE_IN_SYSTEM } from './paths.js';
import { planSandbox, SBX_TABLE, SECCOMP_FD } from './plan.js';
import type { SandboxOptions } from './types.js';

/** Stands for a run-time value in a template line (start line, summary). */
export const MARK = {
  id: '\u0001ID\u0001',
  rc: '\u0001RC\u0001',
  passed: '\u0001PASSED\u0001',
  withheld: '\u0001WITHHELD\u0001',
  hidden: '\u0001HIDDEN\u0001',
} as const;

/** The shell variable each mark becomes. */
const MARK_VAR: Readonly<Record<string, string>> = {
  [MARK.id]: '_c_id',
  [MARK.rc]: '_c_rc',
  [MARK.passed]: '_c_passed',
  [MARK.withheld]: '_c_withheld',
  [MARK.hidden]: '_c_hidden',
};

/** What the CLI prints, as templates with MARKs (the build step makes them with the CLI's own code). */
export interface LauncherText {
  /** Before the command: `cordon run: sandbox ID: isolated (rootless)\n`. */
  readonly start: string;
  /**
   * After it, nothing counted: the summary for each case of its plural forms — withheld 0 or
   * more, hidden 1 or other.
   */
  readonly summary: { readonly w0h1: string; readonly w0hn: string; readonly wnh1: string; readonly wnhn: string };
}

export interface LauncherInput {
  /** libseccomp's name of the architecture the filter is for (x86_64, aarch64). */
  readonly arch: string;
  /** The seccomp filter's file, relative to the fragment's directory. */
  readonly seccompFile: string;
  /** The Node report (fast-report.js), relative to the repository root ($ROOT in bin/cordon). */
  readonly report: string;
  readonly text: LauncherText;
}

const WD = '/\u0001WORKDIR\u0001';
const CMD = '\u0001CMD\u0001';

/** The options of `cordon run -- CMD` as an ordinary user, with the run-time parts left as marks. */
export function fastOptions(arch: string): SandboxOptions {
  return {
    mode: 'isolated',
    allow: [],
    allowDomains: [],
    deny: [],
    dnsUpstream: undefined,
    memoryBytes: undefined,
    cpus: undefined,
    pids: undefined,
    timeoutMs: undefined,
    ro: [],
    rw: [],
    workdir: WD,
    hide: [],
    arch,
    allowUserns: false,
    env: {},
    envCounts: { passed: 0, withheld: 0 },
    hostNetns: undefined,
    rootless: true,
    publish: [],
    wireguard: undefined,
    vaultDir: undefined,
    command: [CMD],
    tunnelWaitMs: 0,
  };
}

/** The planned command line split where the run-time parts go: before the hidden paths, after them (up to the command). */
export function fastArgv(arch: string): { head: string[]; tail: string[]; seccomp: Buffer } {
  const plan = planSandbox(fastOptions(arch), '000000', undefined, 'none');
  const argv = plan.argv;
  const at = argv.indexOf('--seccomp');
  if (at < 0 || argv[argv.length - 1] !== CMD || argv.indexOf(CMD) !== argv.length - 1) throw new Error('launcher: unexpected plan shape');
  return { head: argv.slice(0, at), tail: argv.slice(at, -1), seccomp: plan.seccomp };
}

/** One shell word: single-quoted, the work dir's mark as "$_c_wd". */
function word(w: string): string {
  if (w === WD) return '"$_c_wd"';
  if (w.includes('\u0001')) throw new Error(`launcher: a mark inside a word: ${JSON.stringify(w)}`);
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

/** A template line as one printf to stderr, marks as variables. */
function printLine(template: string): string {
  const parts = template.split(/(\u0001[A-Z]+\u0001)/).filter((p) => p !== '');
  return `printf '%s' ${parts.map((p) => (MARK_VAR[p] !== undefined ? `"$${MARK_VAR[p]}"` : word(p))).join(' ')} >&2`;
}

/** A sh `case` pattern list for names (`A|B|C_*`); names are checked to need no quoting. */
function patterns(exact: readonly string[], prefixes: readonly string[] = []): string {
  for (const n of [...exact, ...prefixes]) if (!/^[A-Za-z0-9_]+$/.test(n)) throw new Error(`launcher: not a plain name: ${n}`);
  return [...exact, ...prefixes.map((p) => `${p}*`)].join('|');
}

/** A newline-separated list as one single-quoted shell word. */
function lines(xs: readonly string[]): string {
  for (const x of xs) if (x.includes('\n')) throw new Error(`launcher: newline in ${JSON.stringify(x)}`);
  return word(xs.join('\n'));
}

/** The shell fragment (see the module comment). */
export function launcherScript(input: LauncherInput): string {
  const { head, tail } = fastArgv(input.arch);
  const system = SYSTEM_DIRS.map((d) => `${word(d)}|${word(d)}/*`).join('|');
  const userSpace = USER_SPACE_IN_SYSTEM.map((d) => `${word(d)}/?*`).join('|');
  const s = input.text.summary;
  return `# cordon run -- CMD without Node: generated by \`make build\` (src/sandbox/launcher.ts) from the
# plan code; do not edit. Sourced by bin/cordon with "$@" = run -- CMD…, after ROOT is set.
# Returns (to the Node path) before changing anything unless everything is ordinary.
_c_nl='
'
# The lists of hidden.ts, one path a line (split on newlines below: IFS).
_c_run_state=${lines(RUN_STATE)}
_c_home_state=${lines(HOME_STATE)}
_c_system_secrets=${lines(SYSTEM_SECRETS)}
_c_home_secrets=${lines(HOME_SECRETS)}
_c_prepare() {
  # The environment (env.ts): names from awk's ENVIRON, i.e. what a child of this shell gets —
  # taken first, before cd (below) makes dash export an OLDPWD of its own.
  _c_names=$(awk 'BEGIN { for (k in ENVIRON) print k }') || return 1
  # Ordinary users only (root plans another sandbox), on the architecture of the filter.
  _c_uid=
  while IFS=' 	' read -r _c_k _c_v _c_x; do
    if [ "$_c_k" = Uid: ]; then _c_uid=$_c_v; break; fi
  done < /proc/self/status
  [ -n "$_c_uid" ] && [ "$_c_uid" != 0 ] || return 1
  read -r _c_arch 2>/dev/null < /proc/sys/kernel/arch || return 1
  [ "$_c_arch" = ${word(input.arch)} ] || return 1
  for _c_t in bwrap nft ip unshare setpriv awk readlink; do command -v "$_c_t" >/dev/null 2>&1 || return 1; done
  # bin/cordon's ROOT may be a variable of the caller's environment, which _c_run unsets.
  _c_root=$ROOT
  _c_bpf="$_c_root/dist/fast/${input.seccompFile}"
  [ -r "$_c_bpf" ] || return 1

  # The work dir: the current directory, symlinks resolved; refused ones get Node's message.
  _c_wd=$(pwd -P 2>/dev/null) || return 1
  _c_plain "$_c_wd" || return 1
  case "$_c_wd" in
    ${userSpace}) ;;
    ${system}) return 1 ;;
  esac

  # Homes: $HOME, this uid's passwd home, SUDO_USER's (host.ts homes()).
  _c_home=\${HOME-}
  [ -n "$_c_home" ] && _c_plain "$_c_home" || return 1
  _c_homes=
  _c_add_home "$_c_home"
  while IFS=: read -r _c_u _c_x _c_i _c_g _c_gecos _c_h _c_sh; do
    if [ "$_c_i" = "$_c_uid" ] && [ -z "\${_c_own-}" ]; then _c_own=1; _c_add_home "$_c_h" || return 1; fi
    if [ -n "\${SUDO_USER-}" ] && [ "$_c_u" = "$SUDO_USER" ] && [ -z "\${_c_sudo-}" ]; then _c_sudo=1; _c_add_home "$_c_h" || return 1; fi
  done < /etc/passwd

  # Temp dirs (os.tmpdir()) and the sandbox state dir (teardown.ts stateDir()).
  _c_tmp=\${TMPDIR:-\${TMP:-\${TEMP:-/tmp}}}
  [ "$_c_tmp" = / ] || _c_tmp=\${_c_tmp%/}
  _c_plain "$_c_tmp" || return 1
  if [ -n "\${CORDON_SANDBOX_STATE_DIR-}" ]; then _c_sd=$CORDON_SANDBOX_STATE_DIR
  elif [ -n "\${XDG_RUNTIME_DIR-}" ]; then _c_sd=$XDG_RUNTIME_DIR/cordon/sandbox
  else _c_sd=$_c_tmp/cordon-$_c_uid/sandbox; fi
  _c_plain "$_c_sd" || return 1
  # A dead run's state: the Node path cleans it up first.
  set +f
  for _c_f in "$_c_sd"/*.json; do [ -e "$_c_f" ] && return 1; done
  set -f

  # cordon's own state (hidden.ts stateCandidates, plus the state dir), existing ones with their targets.
  _c_state=
  for _c_p in $_c_run_state; do _c_cand state "$_c_p"; done
  for _c_h in $_c_homes; do for _c_p in $_c_home_state; do _c_cand state "$_c_h/$_c_p"; done; done
  _c_cand state "$_c_wd/.cordon"
  for _c_v in ${STATE_ENV.join(' ')}; do
    eval "_c_p=\\\${$_c_v-}"
    [ -n "$_c_p" ] || continue
    _c_plain "$_c_p" || return 1
    _c_cand state "$_c_p"
  done
  for _c_d in "$_c_tmp" /tmp /dev/shm; do
    set +f
    set -- "$_c_d"/cordon-vault-?*
    set -f
    for _c_p in "$@"; do
      { [ -e "$_c_p" ] || [ -L "$_c_p" ]; } && { _c_cand state "$_c_p" || return 1; }
    done
  done
  _c_cand state "$_c_sd"
  # A work dir inside cordon's state is refused (by the Node path, with its message).
  for _c_p in $_c_state; do _c_within "$_c_wd" "$_c_p" && return 1; done

  # Secrets (hidden.ts secretCandidates), except those holding the work dir.
  _c_secret=
  for _c_p in $_c_system_secrets; do _c_cand secret "$_c_p"; done
  set +f
  set -- /etc/ssh/ssh_host_*_key
  set -f
  for _c_p in "$@"; do
    { [ -e "$_c_p" ] || [ -L "$_c_p" ]; } && { _c_cand secret "$_c_p" || return 1; }
  done
  for _c_h in $_c_homes; do for _c_p in $_c_home_secrets; do _c_cand secret "$_c_h/$_c_p"; done; done
  case "\${SSH_AUTH_SOCK-}" in /*) _c_plain "$SSH_AUTH_SOCK" || return 1; _c_cand secret "$SSH_AUTH_SOCK" ;; esac
  _c_p=\${GPG_AGENT_INFO-}
  _c_p=\${_c_p%%:*}
  case "$_c_p" in /*) _c_plain "$_c_p" || return 1; _c_cand secret "$_c_p" ;; esac

  # What is hidden: the existing ones, outermost only (options.ts).
  _c_all=$_c_state
  for _c_p in $_c_secret; do _c_within "$_c_wd" "$_c_p" || _c_all=$_c_all$_c_nl$_c_p; done
  _c_hide=
  for _c_p in $_c_all; do
    [ -e "$_c_p" ] || continue
    case "$_c_nl$_c_hide$_c_nl" in *"$_c_nl$_c_p$_c_nl"*) continue ;; esac
    _c_hide=$_c_hide$_c_nl$_c_p
  done
  _c_out=
  _c_hidden=0
  for _c_p in $_c_hide; do
    _c_keep=1
    for _c_q in $_c_hide; do
      [ "$_c_q" != "$_c_p" ] && _c_within "$_c_p" "$_c_q" && { _c_keep=; break; }
    done
    [ -n "$_c_keep" ] || continue
    _c_out=$_c_out$_c_nl$_c_p
    _c_hidden=$((_c_hidden + 1))
  done
  _c_hide=$_c_out

  _c_total=0
  _c_passed=0
  _c_drop=
  for _c_n in $_c_names; do
    # The launcher's own names must not be the caller's (unset below, they would be gone).
    case "$_c_n" in ''|[0-9]*|*[!A-Za-z0-9_]*|_c_*) return 1 ;; esac
    _c_total=$((_c_total + 1))
    case "$_c_n" in
      ${patterns(ENV_ALLOW, ENV_ALLOW_PREFIX)}) _c_passed=$((_c_passed + 1)) ;;
      *) _c_drop=$_c_drop$_c_nl$_c_n ;;
    esac
  done
  _c_withheld=$((_c_total - _c_passed))
  return 0
}

# True when $1 needs no normalising (absolute; no //, /./, /../, trailing /).
_c_plain() {
  case "$1" in
    /) return 0 ;;
    /*//*|*/./*|*/../*|*/.|*/..|*/|*"$_c_nl"*) return 1 ;;
    /*) return 0 ;;
  esac
  return 1
}

# True when $1 is $2 or lies inside it (hidden.ts within).
_c_within() {
  [ "$2" = / ] && return 0
  case "$1" in "$2"|"$2"/*) return 0 ;; esac
  return 1
}

_c_add_home() {
  [ -n "$1" ] && [ "$1" != / ] || return 0
  _c_plain "$1" || return 1
  case "$_c_nl$_c_homes$_c_nl" in *"$_c_nl$1$_c_nl"*) return 0 ;; esac
  _c_homes=\${_c_homes:+$_c_homes$_c_nl}$1
}

# A candidate for list $1: the path, and where it really is when it exists (host.ts withTarget).
_c_cand() {
  case "$2" in *"$_c_nl"*) return 1 ;; esac
  eval "_c_list=\\$_c_$1"
  _c_list=\${_c_list:+$_c_list$_c_nl}$2
  if [ -e "$2" ]; then
    _c_real "$2"
    [ "$_c_r" = "$2" ] || _c_list=$_c_list$_c_nl$_c_r
  fi
  eval "_c_$1=\\$_c_list"
}

# $1 with symlinks resolved (realpath): its directory through cd -P, readlink only for a symlink itself.
_c_real() {
  if [ -L "$1" ]; then
    _c_r=$(readlink -f -- "$1") || _c_r=$1
    return 0
  fi
  _c_d=\${1%/*}
  [ -n "$_c_d" ] || _c_d=/
  if cd -P -- "$_c_d" 2>/dev/null; then
    if [ "$PWD" = / ]; then _c_r=/\${1##*/}; else _c_r=$PWD/\${1##*/}; fi
  else
    _c_r=$1
  fi
  cd -P -- "$_c_wd"
}

_c_run() {
  shift 2
  for _c_n in $_c_drop; do unset "$_c_n"; done
  # An OLDPWD that only the cd of _c_real made: not the caller's, and not in the allowlist.
  case "$_c_nl$_c_names$_c_nl" in *"$_c_nl"OLDPWD"$_c_nl"*) ;; *) unset OLDPWD ;; esac
  read -r _c_id < /proc/sys/kernel/random/uuid
  _c_id=\${_c_id%%-*}
  _c_id=\${_c_id#??}
  ${printLine(input.text.start)}
  # The command line: the command first, then the plan's words, then rotated so the command comes last.
  _c_ncmd=$#
  set -- "$@" ${head.map(word).join(' ')}
  for _c_p in $_c_hide; do
    if [ -d "$_c_p" ]; then set -- "$@" --tmpfs "$_c_p" --remount-ro "$_c_p"; else set -- "$@" --ro-bind /dev/null "$_c_p"; fi
  done
  set -- "$@" ${tail.map(word).join(' ')}
  _c_i=0
  while [ "$_c_i" -lt "$_c_ncmd" ]; do set -- "$@" "$1"; shift; _c_i=$((_c_i + 1)); done
  _c_sig=
  trap '_c_sig=SIGINT' INT
  trap '_c_sig=SIGTERM' TERM
  trap '_c_sig=SIGHUP' HUP
  set +e
  # fd 3 (the table after the command) and fd 4 (set-up errors) into one capture; the command's own stdout stays.
  exec 6>&1
  _c_table=$(CORDON_OWNER_PID=$$ exec "$@" 3>&1 4>&1 1>&6 6>&- ${SECCOMP_FD}<"$_c_bpf")
  _c_rc=$?
  exec 6>&-
  if [ -n "$_c_sig" ]; then
    printf '\\ncordon run: %s: sandbox %s removed\\n' "$_c_sig" "$_c_id" >&2
    exit 130
  fi
  # The summary shows the tx and rx counters and the denied set's elements (the denied counter
  # also counts the kernel's own IPv6 neighbour discovery on the link, which the summary leaves out).
  # All zero and empty, in nft's exact words: the shell prints it; anything else: Node.
  _c_zero=0
  for _c_n in tx rx; do
    case "$_c_table" in
      *'"name": "'"$_c_n"'", "table": "${SBX_TABLE}", "handle": '[0-9]', "packets": 0, "bytes": 0}'*) _c_zero=$((_c_zero + 1)) ;;
      *'"name": "'"$_c_n"'", "table": "${SBX_TABLE}", "handle": '[0-9][0-9]', "packets": 0, "bytes": 0}'*) _c_zero=$((_c_zero + 1)) ;;
    esac
  done
  case "$_c_table" in
    # An element in the denied set is a list; the rules name the set with an object.
    '{"nftables"'*'"elem": ['*) ;;
    '{"nftables"'*)
      if [ "$_c_zero" = 2 ]; then
        case "$_c_withheld:$_c_hidden" in
          0:1) ${printLine(s.w0h1)} ;;
          0:*) ${printLine(s.w0hn)} ;;
          *:1) ${printLine(s.wnh1)} ;;
          *) ${printLine(s.wnhn)} ;;
        esac
        exit "$_c_rc"
      fi
      ;;
  esac
  # Something was counted, or the set-up failed: Node reports it, from the same table, as the Node path does.
  exec node "$_c_root/${input.report}" "$_c_rc" "$_c_id" "$_c_passed" "$_c_withheld" "$_c_hidden" <<CORDON_TABLE
$_c_table
CORDON_TABLE
}

_c_oifs=$IFS
IFS=$_c_nl
set -f
if _c_prepare; then _c_run "$@"; fi
IFS=$_c_oifs
set +f
`;
}
