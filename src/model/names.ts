/**
 * Every kernel-visible name cordon generates (interfaces, ports) comes from here, so the
 * 15-character IFNAMSIZ limit and determinism are enforced in one place.
 */
import { createHash } from 'node:crypto';

export const IFNAMSIZ = 15;

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

export function validIfname(name: string): string | undefined {
  if (name.length === 0) return 'an interface name cannot be empty';
  if (name.length > IFNAMSIZ) return `interface name '${name}' has ${name.length} characters; the kernel allows at most ${IFNAMSIZ}`;
  if (/[\s/:]/.test(name)) return `interface name '${name}' may not contain spaces, '/' or ':'`;
  return undefined;
}
