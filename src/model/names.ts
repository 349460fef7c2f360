/**
 * Every kernel-visible name cordon generates (interfaces, ports) comes from here, so the
 * 15-character IFNAMSIZ limit and determinism are enforced in one place.
 */
import { createHash } from 'node:crypto';
import { IFNAME_MAX_BYTES, ifnameProblem } from '../spec/identifiers.js';

/** The longest interface name in bytes (the kernel's IFNAMSIZ minus the final NUL). */
export const IFNAMSIZ = IFNAME_MAX_BYTES;

export function shortHash(text: string, len = 6): string {
  return createHash('sha256').update(text).digest('hex').slice(0, len);
}

/**
 * Proxmox-style port name for a guest's nth interface (tap101i0 for a VM, veth101i0 for a
 * container), else a readable prefix plus a short hash.
 */
export function guestPortName(host: string, id: number | undefined, nicIndex: number, kind: 'vm' | 'container' | 'other' = 'vm'): string {
  if (id !== undefined) {
    const tap = `${kind === 'container' ? 'veth' : 'tap'}${id}i${nicIndex}`;
    if (tap.length <= IFNAMSIZ) return tap;
  }
  const base = host.replace(/[^A-Za-z0-9]/g, '').slice(0, 6);
  return `vp${base}${shortHash(`${host}/${nicIndex}`, 5)}`.slice(0, IFNAMSIZ);
}

/**
 * Why `name` cannot be an interface name (1–15 bytes of letters, digits, "_", ".", "@", "-"; not
 * `.` or `..`), or undefined.
 */
export function validIfname(name: string): string | undefined {
  return ifnameProblem(name);
}

/** Whether the characters are the problem (CORDON018) rather than only the length (CORDON017). */
export function ifnameHasUnsafeChars(name: string): boolean {
  return !/^[A-Za-z0-9_.@-]*$/.test(name) || name === '.' || name === '..';
}
