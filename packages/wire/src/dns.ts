import { get16, get32, put16, put32 } from './bytes';
import { decodeDnsName, dnsNameLen, encodeDnsName } from './dns-name';
import { WireError, need } from './errors';

export const DNS_HEADER_LEN = 12;
export const DNS_TYPE_A = 1;
export const DNS_TYPE_NS = 2;
export const DNS_TYPE_CNAME = 5;
export const DNS_TYPE_PTR = 12;
export const DNS_TYPE_AAAA = 28;
export const DNS_CLASS_IN = 1;

/** Header flag bits (RFC 1035 §4.1.1). */
export const DNS_FLAG_QR = 0x8000;
export const DNS_FLAG_AA = 0x0400;
export const DNS_FLAG_TC = 0x0200;
export const DNS_FLAG_RD = 0x0100;
export const DNS_FLAG_RA = 0x0080;
export const DNS_RCODE_MASK = 0x000f;

/** A view over the 12-byte DNS header; the sections are read by {@link parseDns}. */
export class DnsHeader {
  private constructor(readonly bytes: Uint8Array) {}

  static wrap(bytes: Uint8Array): DnsHeader {
    need(bytes, 0, DNS_HEADER_LEN, 'dns header');
    return new DnsHeader(bytes);
  }
  get id(): number {
    return get16(this.bytes, 0);
  }
  get flags(): number {
    return get16(this.bytes, 2);
  }
  get isResponse(): boolean {
    return (this.bytes[2]! & 0x80) !== 0;
  }
  get qdCount(): number {
    return get16(this.bytes, 4);
  }
  get anCount(): number {
    return get16(this.bytes, 6);
  }
  get nsCount(): number {
    return get16(this.bytes, 8);
  }
  get arCount(): number {
    return get16(this.bytes, 10);
  }
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Raw RDATA (copied). For NS/CNAME/PTR it may hold compression pointers: use `target`. */
  rdata: Uint8Array;
  /** A: the address as a uint32. */
  address?: number;
  /** NS/CNAME/PTR: the decompressed target name. */
  target?: string;
}

export interface DnsRepr {
  id: number;
  flags: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

function parseRecords(msg: Uint8Array, offset: number, count: number, out: DnsRecord[]): number {
  let pos = offset;
  for (let i = 0; i < count; i++) {
    const { name, next } = decodeDnsName(msg, pos);
    need(msg, next, 10, 'dns record header');
    const type = get16(msg, next);
    const rdLen = get16(msg, next + 8);
    need(msg, next + 10, rdLen, 'dns rdata');
    const rdStart = next + 10;
    const record: DnsRecord = { name, type, class: get16(msg, next + 2), ttl: get32(msg, next + 4), rdata: msg.slice(rdStart, rdStart + rdLen) };
    if (type === DNS_TYPE_A) {
      if (rdLen !== 4) throw new WireError('bad-field', `dns A record with ${rdLen} bytes`);
      record.address = get32(msg, rdStart);
    } else if (type === DNS_TYPE_CNAME || type === DNS_TYPE_NS || type === DNS_TYPE_PTR) {
      const t = decodeDnsName(msg, rdStart);
      if (t.next > rdStart + rdLen) throw new WireError('bad-name', 'dns target name runs past its rdata');
      record.target = t.name;
    }
    out.push(record);
    pos = rdStart + rdLen;
  }
  return pos;
}

/**
 * Parses a whole DNS message. Every name goes through the loop-proof decoder; every count is
 * bounded by the bytes actually present (a record needs at least 11 bytes, so a lying count
 * fails with `truncated` after at most length/11 iterations).
 */
export function parseDns(msg: Uint8Array): DnsRepr {
  const h = DnsHeader.wrap(msg);
  const repr: DnsRepr = { id: h.id, flags: h.flags, questions: [], answers: [], authorities: [], additionals: [] };
  let pos = DNS_HEADER_LEN;
  for (let i = 0; i < h.qdCount; i++) {
    const { name, next } = decodeDnsName(msg, pos);
    need(msg, next, 4, 'dns question');
    repr.questions.push({ name, type: get16(msg, next), class: get16(msg, next + 2) });
    pos = next + 4;
  }
  pos = parseRecords(msg, pos, h.anCount, repr.answers);
  pos = parseRecords(msg, pos, h.nsCount, repr.authorities);
  parseRecords(msg, pos, h.arCount, repr.additionals);
  return repr;
}

function recordLen(r: DnsRecord): number {
  const rd = r.target !== undefined ? dnsNameLen(r.target) : r.address !== undefined ? 4 : r.rdata.length;
  return dnsNameLen(r.name) + 10 + rd;
}

/** Serialises a message without name compression. */
export function emitDns(repr: DnsRepr): Uint8Array {
  const records = [...repr.answers, ...repr.authorities, ...repr.additionals];
  let len = DNS_HEADER_LEN;
  for (const q of repr.questions) len += dnsNameLen(q.name) + 4;
  for (const r of records) len += recordLen(r);
  const buf = new Uint8Array(len);
  put16(buf, 0, repr.id);
  put16(buf, 2, repr.flags);
  put16(buf, 4, repr.questions.length);
  put16(buf, 6, repr.answers.length);
  put16(buf, 8, repr.authorities.length);
  put16(buf, 10, repr.additionals.length);
  let pos = DNS_HEADER_LEN;
  for (const q of repr.questions) {
    pos = encodeDnsName(q.name, buf, pos);
    put16(buf, pos, q.type);
    put16(buf, pos + 2, q.class);
    pos += 4;
  }
  for (const r of records) {
    pos = encodeDnsName(r.name, buf, pos);
    put16(buf, pos, r.type);
    put16(buf, pos + 2, r.class);
    put32(buf, pos + 4, r.ttl);
    const rdStart = pos + 10;
    let end: number;
    if (r.target !== undefined) end = encodeDnsName(r.target, buf, rdStart);
    else if (r.address !== undefined) {
      put32(buf, rdStart, r.address);
      end = rdStart + 4;
    } else {
      buf.set(r.rdata, rdStart);
      end = rdStart + r.rdata.length;
    }
    put16(buf, pos + 8, end - rdStart);
    pos = end;
  }
  return buf.subarray(0, pos);
}
