/**
 * What the sandbox's seccomp filter refuses, after container runtimes' default profiles (Docker,
 * Podman): calls that reach outside the sandbox or into the kernel's privileged interfaces. The
 * command runs without capabilities anyway, so most of these would fail on their own today; the
 * filter makes that true whatever a future kernel bug or namespace trick allows. Each group says why.
 */
import type { SyscallName } from './syscalls.generated.js';

export interface BlockedGroup {
  readonly why: string;
  readonly calls: readonly SyscallName[];
}

/** Refused with EPERM. A call an architecture lacks is simply not compared there. */
export const BLOCKED: readonly BlockedGroup[] = [
  { why: 'tracing or reading the memory of other processes', calls: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp'] },
  { why: 'replacing the running kernel', calls: ['kexec_load', 'kexec_file_load', 'reboot'] },
  { why: 'loading kernel modules', calls: ['init_module', 'finit_module', 'delete_module', 'create_module', 'query_module', 'get_kernel_syms'] },
  { why: "the kernel's key retention service (keys are not namespaced)", calls: ['keyctl', 'add_key', 'request_key'] },
  { why: 'eBPF programs and performance monitoring (kernel attack surface, side channels)', calls: ['bpf', 'perf_event_open', 'userfaultfd'] },
  { why: 'io_uring: its operations bypass this filter', calls: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'] },
  {
    why: 'mounting, or entering other namespaces',
    calls: ['mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr', 'setns'],
  },
  { why: 'opening files by handle, around the mount namespace (the "shocker" escape)', calls: ['open_by_handle_at', 'name_to_handle_at'] },
  {
    why: 'machine-wide state: clock, swap, accounting, quotas, the kernel log, the terminal, raw I/O ports',
    calls: [
      'settimeofday',
      'stime',
      'clock_settime',
      'clock_adjtime',
      'swapon',
      'swapoff',
      'acct',
      'quotactl',
      'syslog',
      'vhangup',
      'uselib',
      'nfsservctl',
      'lookup_dcookie',
      'iopl',
      'ioperm',
    ],
  },
];

/** clone/unshare with this flag (a new user namespace, and with it every capability inside) is refused unless asked for. */
export const CLONE_NEWUSER = 0x10000000;
