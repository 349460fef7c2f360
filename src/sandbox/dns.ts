/**
 * The sandbox's resolver, pure half: just enough DNS (RFC 1035) to read a query, read the A
 * records of an upstream answer and write a reply. A queries only; everything else is refused.
 *
 * Policy (`decide`): a name is answered only when an allow entry names it (`example.com`) or a
 * parent (`*.example.com`); the answer's addresses are filtered against the private, loopback,
 * link-local and metadata ranges unless an explicit CIDR allow covers them (a public name
 * pointing at 169.254.169.254 or 10.0.0.5 is a classic way out of an allowlist).
 */
import { cidrRange, inRange, parseCidr, parseIPv4, type AddrRange } from '../util/ip.js';

export interface DomainRule {
  /** Lower case, no trailing dot; `*.example.com` matches proper subdomains only. */
  readonly domain: string;
  readonly port: number | undefined;
  readonly text: string;
}

export const RCODE = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, refused: 5 } as const;

export interface Query {
  readonly id: number;
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  /** The question section's bytes, echoed in replies. */
  readonly question: Buffer;
  readonly rd: boolean;
}

/** Private, shared, loopback, link-local, metadata and reserved IPv4 ranges. */
export const PRIVATE_RANGES: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/3',
];

const PRIVATE: readonly AddrRange[] = PRIVATE_RANGES.map((c) => cidrRange(parseCidr(c, false)!));

function readName(buf: Buffer, start: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let off = start;
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (off >= buf.length) return undefined;
    const len = buf[off]!;
    if (len === 0) {
      if (end < 0) end = off + 1;
      return { name: labels.join('.').toLowerCase(), end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) return undefined;
      if (end < 0) end = off + 2;
      off = ((len & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    if (off + 1 + len > buf.length) return undefined;
    labels.push(buf.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  return undefined;
}

export function parseQuery(buf: Buffer): Query | undefined {
  if (buf.length < 12) return undefined;
  const flags = buf.readUInt16BE(2);
  if ((flags & 0x8000) !== 0 || buf.readUInt16BE(4) !== 1) return undefined;
  const n = readName(buf, 12);
  if (!n || n.end + 4 > buf.length) return undefined;
  return {
    id: buf.readUInt16BE(0),
    name: n.name,
    qtype: buf.readUInt16BE(n.end),
    qclass: buf.readUInt16BE(n.end + 2),
    question: buf.subarray(12, n.end + 4),
    rd: (flags & 0x0100) !== 0,
  };
}

export function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((p) => p !== '');
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

/** A query for NAME/A (tests and the upstream side). */
export function buildQuery(id: number, name: string, qtype = 1): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([h, encodeName(name), tail]);
}

/** A reply to `q` with these A records (pointer to the question's name). */
export function buildReply(q: Pick<Query, 'id' | 'question' | 'rd'>, rcode: number, answers: readonly { ip: string; ttl: number }[] = []): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.id, 0);
  h.writeUInt16BE(0x8000 | (q.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf), 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(answers.length, 6);
  const rrs = answers.map((a) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(a.ttl >>> 0, 6);
    rr.writeUInt16BE(4, 10);
    const n = parseIPv4(a.ip) ?? 0;
    rr.writeUInt32BE(n >>> 0, 12);
    return rr;
  });
  return Buffer.concat([h, q.question, ...rrs]);
}

/** The A records of an upstream answer (CNAME chains followed implicitly: every A counts). */
export function parseAnswers(buf: Buffer): { id: number; rcode: number; answers: { ip: string; ttl: number }[] } | undefined {
  if (buf.length < 12) return undefined;
  const id = buf.readUInt16BE(0);
  const rcode = buf.readUInt16BE(2) & 0xf;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) {
    const n = readName(buf, off);
    if (!n) return undefined;
    off = n.end + 4;
  }
  const answers: { ip: string; ttl: number }[] = [];
  for (let i = 0; i < an; i++) {
    const n = readName(buf, off);
    if (!n || n.end + 10 > buf.length) return undefined;
    const type = buf.readUInt16BE(n.end);
    const ttl = buf.readUInt32BE(n.end + 4);
    const len = buf.readUInt16BE(n.end + 8);
    const data = n.end + 10;
    if (data + len > buf.length) return undefined;
    if (type === 1 && len === 4) answers.push({ ip: `${buf[data]}.${buf[data + 1]}.${buf[data + 2]}.${buf[data + 3]}`, ttl });
    off = data + len;
  }
  return { id, rcode, answers };
}

export function parseDomainRule(text: string): DomainRule | undefined {
  const m = /^(\*\.)?((?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)+[A-Za-z]{2,63})\.?(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { domain: `${m[1] ?? ''}${m[2]!.toLowerCase()}`, port, text };
}

/** The allow entries that name `name` (empty: not allowlisted). */
export function rulesFor(name: string, rules: readonly DomainRule[]): DomainRule[] {
  const n = name.toLowerCase().replace(/\.$/, '');
  return rules.filter((r) => (r.domain.startsWith('*.') ? n.endsWith(r.domain.slice(1)) : n === r.domain));
}

/** An answer's address is kept unless it is private and no explicit CIDR allow covers it. */
export function addressAllowed(ip: string, explicit: readonly AddrRange[]): boolean {
  const n = parseIPv4(ip);
  if (n === undefined) return false;
  if (!PRIVATE.some((r) => inRange(n, r))) return true;
  return explicit.some((r) => inRange(n, r));
}
