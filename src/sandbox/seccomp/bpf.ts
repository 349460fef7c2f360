/**
 * The sandbox's seccomp filter as a classic-BPF program (what `bwrap --seccomp FD` reads): a tiny
 * assembler with labels plus the one program cordon needs. Pure: same options, same bytes.
 *
 *   ld arch;  foreign architecture (an i386 binary on x86_64, …) → kill the process
 *   ld nr;    x86_64: an x32 call (nr ≥ 0x40000000) → EPERM
 *             each blocked call → EPERM;  clone3 → ENOSYS (its flags live in memory the filter cannot
 *             read, so libc is told it does not exist and falls back to clone, as container runtimes do)
 *             clone/unshare with CLONE_NEWUSER → EPERM unless allowUserns
 *   allow
 */
import { BLOCKED, CLONE_NEWUSER } from './policy.js';
import { SYSCALLS, type SyscallName } from './syscalls.generated.js';

/** Architectures with a syscall table: the names libseccomp uses, and their AUDIT_ARCH_* values. */
export const AUDIT_ARCH: Readonly<Record<string, number>> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };

/** Node's process.arch → libseccomp's name. */
export function seccompArch(nodeArch: string = process.arch): string | undefined {
  return ({ x64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[nodeArch];
}

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

export const RET_ALLOW = 0x7fff0000;
export const RET_KILL_PROCESS = 0x80000000;
export const retErrno = (errno: number): number => (0x00050000 | (errno & 0xffff)) >>> 0;
export const EPERM = 1;
export const ENOSYS = 38;

/** struct seccomp_data offsets. */
const OFF_NR = 0;
const OFF_ARCH = 4;
/** args[0], low 32 bits (both supported architectures are little-endian). */
const OFF_ARG0_LO = 16;
const X32_SYSCALL_BIT = 0x40000000;

type Insn = { code: number; k: number; jt?: string; jf?: string } | { label: string };

/** Resolves labels to relative jumps and encodes struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}. */
export function assemble(prog: readonly Insn[]): Buffer {
  const at = new Map<string, number>();
  const insns: Extract<Insn, { code: number }>[] = [];
  for (const i of prog) {
    if ('label' in i) at.set(i.label, insns.length);
    else insns.push(i);
  }
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    const off = (label: string | undefined): number => {
      if (label === undefined) return 0;
      const t = at.get(label);
      if (t === undefined) throw new Error(`seccomp: unknown label ${label}`);
      const d = t - (n + 1);
      if (d < 0 || d > 255) throw new Error(`seccomp: jump to ${label} out of range (${d})`);
      return d;
    };
    buf.writeUInt16LE(i.code, n * 8);
    buf.writeUInt8(off(i.jt), n * 8 + 2);
    buf.writeUInt8(off(i.jf), n * 8 + 3);
    buf.writeUInt32LE(i.k >>> 0, n * 8 + 4);
  });
  return buf;
}

export interface FilterOptions {
  /** libseccomp's architecture name (x86_64, aarch64). */
  readonly arch: string;
  /** Let the command make user namespaces (clone/unshare with CLONE_NEWUSER). Default false. */
  readonly allowUserns?: boolean;
}

/** The blocked calls' numbers on `arch`, sorted, without the ones it lacks. */
export function blockedNumbers(arch: string): number[] {
  const table = SYSCALLS[arch];
  if (!table) throw new Error(`seccomp: no syscall table for ${arch}`);
  const nrs = BLOCKED.flatMap((g) => g.calls)
    .map((c) => table[c])
    .filter((n): n is number => n !== undefined);
  return [...new Set(nrs)].sort((a, b) => a - b);
}

/** The compiled filter for bwrap --seccomp. */
export function seccompFilter(opts: FilterOptions): Buffer {
  const table = SYSCALLS[opts.arch];
  const audit = AUDIT_ARCH[opts.arch];
  if (!table || audit === undefined) throw new Error(`seccomp: no syscall table for ${opts.arch} (have: ${Object.keys(AUDIT_ARCH).join(', ')})`);
  const nr = (c: SyscallName): number => {
    const n = table[c];
    if (n === undefined) throw new Error(`seccomp: ${opts.arch} has no ${c}`);
    return n;
  };
  const p: Insn[] = [
    { code: LD_W_ABS, k: OFF_ARCH },
    { code: JEQ_K, k: audit, jf: 'kill' },
    { code: LD_W_ABS, k: OFF_NR },
  ];
  if (opts.arch === 'x86_64') p.push({ code: JGE_K, k: X32_SYSCALL_BIT, jt: 'eperm' });
  for (const n of blockedNumbers(opts.arch)) p.push({ code: JEQ_K, k: n, jt: 'eperm' });
  p.push({ code: JEQ_K, k: nr('clone3'), jt: 'enosys' });
  if (opts.allowUserns !== true) {
    p.push({ code: JEQ_K, k: nr('clone'), jt: 'flags' }, { code: JEQ_K, k: nr('unshare'), jt: 'flags' });
  }
  p.push({ code: RET_K, k: RET_ALLOW });
  if (opts.allowUserns !== true) {
    p.push({ label: 'flags' }, { code: LD_W_ABS, k: OFF_ARG0_LO }, { code: JSET_K, k: CLONE_NEWUSER, jt: 'eperm' }, { code: RET_K, k: RET_ALLOW });
  }
  p.push({ label: 'eperm' }, { code: RET_K, k: retErrno(EPERM) });
  p.push({ label: 'enosys' }, { code: RET_K, k: retErrno(ENOSYS) });
  p.push({ label: 'kill' }, { code: RET_K, k: RET_KILL_PROCESS });
  return assemble(p);
}

/**
 * Runs a compiled program over one seccomp_data (for tests): what the kernel would return. Only
 * the instructions seccompFilter emits are understood.
 */
export function evaluate(prog: Buffer, data: { arch: number; nr: number; arg0?: number }): number {
  let acc = 0;
  for (let pc = 0; pc * 8 < prog.length;) {
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    pc++;
    if (code === LD_W_ABS) acc = k === OFF_ARCH ? data.arch : k === OFF_NR ? data.nr >>> 0 : k === OFF_ARG0_LO ? (data.arg0 ?? 0) >>> 0 : 0;
    else if (code === RET_K) return k;
    else if (code === JEQ_K) pc += acc === k ? jt : jf;
    else if (code === JGE_K) pc += acc >= k ? jt : jf;
    else if (code === JSET_K) pc += (acc & k) !== 0 ? jt : jf;
    else throw new Error(`seccomp: cannot evaluate code ${code}`);
  }
  throw new Error('seccomp: fell off the end of the program');
}
