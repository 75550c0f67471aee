import { get16, get32, put16, put32 } from './bytes';
import { decodeDnsName, encodeDnsName, dnsNameLen } from './dns-name';
import { WireError, need } from './errors';
import type { Ipv4Address } from './address';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const BOOTP_REQUEST = 1;
export const BOOTP_REPLY = 2;
/** The fixed BOOTP part (RFC 951/2131 §2) before the magic cookie. */
export const BOOTP_FIXED_LEN = 236;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** RFC 1542 §3.4: BOOTP messages are at least 300 bytes. */
export const BOOTP_MIN_LEN = 300;
export const BOOTP_FLAG_BROADCAST = 0x8000;

/** DHCP message types (option 53, RFC 2132 §9.6). */
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

/** Option codes (RFC 2132 unless noted). */
export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_HOSTNAME = 12;
export const OPT_DOMAIN_NAME = 15;
export const OPT_INTERFACE_MTU = 26;
export const OPT_BROADCAST = 28;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_OVERLOAD = 52;
export const OPT_MESSAGE_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_PARAM_REQUEST = 55;
export const OPT_MESSAGE = 56;
export const OPT_MAX_SIZE = 57;
export const OPT_RENEWAL_TIME = 58;
export const OPT_REBINDING_TIME = 59;
export const OPT_CLIENT_ID = 61;
export const OPT_DOMAIN_SEARCH = 119; // RFC 3397
export const OPT_END = 255;

/**
 * A view over a BOOTP/DHCP message. The checked constructor requires the fixed part, the magic
 * cookie, hlen ≤ 16, and walks the options once: an option whose length runs past the packet,
 * or a missing END, is `bad-option` (CVE-2021-3592 read past an unchecked bootp buffer).
 */
export class DhcpPacket {
  private constructor(readonly bytes: Uint8Array) {}

  static wrap(bytes: Uint8Array): DhcpPacket {
    need(bytes, 0, BOOTP_FIXED_LEN + 4, 'bootp message');
    if (bytes[2]! > 16) throw new WireError('bad-field', `bootp hlen ${bytes[2]} > 16`);
    if (get32(bytes, BOOTP_FIXED_LEN) !== DHCP_MAGIC_COOKIE) throw new WireError('bad-field', 'no DHCP magic cookie');
    walkOptions(bytes, () => undefined);
    return new DhcpPacket(bytes);
  }

  get op(): number {
    return this.bytes[0]!;
  }
  get htype(): number {
    return this.bytes[1]!;
  }
  get hlen(): number {
    return this.bytes[2]!;
  }
  get xid(): number {
    return get32(this.bytes, 4);
  }
  get secs(): number {
    return get16(this.bytes, 8);
  }
  get flags(): number {
    return get16(this.bytes, 10);
  }
  get ciaddr(): Ipv4Address {
    return get32(this.bytes, 12);
  }
  get yiaddr(): Ipv4Address {
    return get32(this.bytes, 16);
  }
  get siaddr(): Ipv4Address {
    return get32(this.bytes, 20);
  }
  get giaddr(): Ipv4Address {
    return get32(this.bytes, 24);
  }
  get chaddr(): Uint8Array {
    return this.bytes.subarray(28, 28 + this.hlen);
  }
  /** The value of option `code`, repeated instances concatenated (RFC 3396), or undefined. */
  option(code: number): Uint8Array | undefined {
    return collectOptions(this.bytes).get(code);
  }
}

/** Every option by code; an option that appears more than once is concatenated (RFC 3396 §7). */
export function collectOptions(bytes: Uint8Array): Map<number, Uint8Array> {
  const parts = new Map<number, Uint8Array[]>();
  walkOptions(bytes, (code, value) => {
    const list = parts.get(code);
    if (list) list.push(value);
    else parts.set(code, [value]);
  });
  const out = new Map<number, Uint8Array>();
  for (const [code, list] of parts) {
    if (list.length === 1) {
      out.set(code, list[0]!);
      continue;
    }
    const joined = new Uint8Array(list.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of list) {
      joined.set(x, o);
      o += x.length;
    }
    out.set(code, joined);
  }
  return out;
}

function walkOptions(bytes: Uint8Array, visit: (code: number, value: Uint8Array) => void): void {
  let i = BOOTP_FIXED_LEN + 4;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === OPT_END) return;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (i + 1 >= bytes.length) throw new WireError('bad-option', `dhcp option ${code} has no length byte`);
    const len = bytes[i + 1]!;
    if (i + 2 + len > bytes.length) throw new WireError('bad-option', `dhcp option ${code} length ${len} overruns the packet`);
    visit(code, bytes.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  throw new WireError('bad-option', 'dhcp options have no END');
}

/** The parsed form. Only Ethernet hardware addresses (htype 1, hlen 6) are represented. */
export interface DhcpRepr {
  op: number;
  xid: number;
  secs?: number;
  flags?: number;
  ciaddr?: Ipv4Address;
  yiaddr?: Ipv4Address;
  siaddr?: Ipv4Address;
  giaddr?: Ipv4Address;
  chaddr: Uint8Array;
  messageType?: number;
  requestedIp?: Ipv4Address;
  serverId?: Ipv4Address;
  leaseTime?: number;
  renewalTime?: number;
  rebindingTime?: number;
  subnetMask?: number;
  router?: Ipv4Address[];
  dns?: Ipv4Address[];
  broadcast?: Ipv4Address;
  hostname?: string;
  domainName?: string;
  domainSearch?: string[];
  mtu?: number;
  maxMessageSize?: number;
  parameterRequestList?: number[];
  clientId?: Uint8Array;
  message?: string;
}

const latin1 = (v: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]!);
  return s;
};

function u32Option(v: Uint8Array | undefined, code: number): number | undefined {
  if (v === undefined) return undefined;
  if (v.length !== 4) throw new WireError('bad-option', `dhcp option ${code} must be 4 bytes, is ${v.length}`);
  return get32(v, 0);
}

function addrList(v: Uint8Array | undefined, code: number): Ipv4Address[] | undefined {
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length % 4 !== 0) throw new WireError('bad-option', `dhcp option ${code} length ${v.length} is not a multiple of 4`);
  const out: Ipv4Address[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(get32(v, i));
  return out;
}

/** RFC 3397: a sequence of (possibly compressed, within the option) DNS names. */
export function decodeDomainSearch(v: Uint8Array): string[] {
  const names: string[] = [];
  let pos = 0;
  while (pos < v.length) {
    const { name, next } = decodeDnsName(v, pos);
    names.push(name);
    pos = next;
  }
  return names;
}

export function encodeDomainSearch(names: readonly string[]): Uint8Array {
  const buf = new Uint8Array(names.reduce((n, s) => n + dnsNameLen(s), 0));
  let pos = 0;
  for (const n of names) pos = encodeDnsName(n, buf, pos);
  return buf;
}

export function parseDhcp(p: DhcpPacket): DhcpRepr {
  if (p.htype !== 1 || p.hlen !== 6) throw new WireError('bad-field', `dhcp htype ${p.htype} hlen ${p.hlen}: only Ethernet is supported`);
  const repr: DhcpRepr = { op: p.op, xid: p.xid, secs: p.secs, flags: p.flags, ciaddr: p.ciaddr, yiaddr: p.yiaddr, siaddr: p.siaddr, giaddr: p.giaddr, chaddr: p.chaddr.slice() };
  const opts = collectOptions(p.bytes);
  const get = (code: number): Uint8Array | undefined => opts.get(code);
  const mt = get(OPT_MESSAGE_TYPE);
  if (mt !== undefined) {
    if (mt.length !== 1) throw new WireError('bad-option', 'dhcp message type must be 1 byte');
    repr.messageType = mt[0]!;
  }
  repr.requestedIp = u32Option(get(OPT_REQUESTED_IP), OPT_REQUESTED_IP);
  repr.serverId = u32Option(get(OPT_SERVER_ID), OPT_SERVER_ID);
  repr.leaseTime = u32Option(get(OPT_LEASE_TIME), OPT_LEASE_TIME);
  repr.renewalTime = u32Option(get(OPT_RENEWAL_TIME), OPT_RENEWAL_TIME);
  repr.rebindingTime = u32Option(get(OPT_REBINDING_TIME), OPT_REBINDING_TIME);
  repr.subnetMask = u32Option(get(OPT_SUBNET_MASK), OPT_SUBNET_MASK);
  repr.broadcast = u32Option(get(OPT_BROADCAST), OPT_BROADCAST);
  repr.router = addrList(get(OPT_ROUTER), OPT_ROUTER);
  repr.dns = addrList(get(OPT_DNS), OPT_DNS);
  const text = (code: number): string | undefined => {
    const v = get(code);
    return v === undefined ? undefined : latin1(v);
  };
  repr.hostname = text(OPT_HOSTNAME);
  repr.domainName = text(OPT_DOMAIN_NAME);
  repr.message = text(OPT_MESSAGE);
  const mtu = get(OPT_INTERFACE_MTU);
  if (mtu !== undefined) {
    if (mtu.length !== 2) throw new WireError('bad-option', 'dhcp MTU option must be 2 bytes');
    repr.mtu = get16(mtu, 0);
  }
  const max = get(OPT_MAX_SIZE);
  if (max !== undefined) {
    if (max.length !== 2) throw new WireError('bad-option', 'dhcp max message size must be 2 bytes');
    repr.maxMessageSize = get16(max, 0);
  }
  const prl = get(OPT_PARAM_REQUEST);
  if (prl !== undefined) repr.parameterRequestList = Array.from(prl);
  const cid = get(OPT_CLIENT_ID);
  if (cid !== undefined) repr.clientId = cid.slice();
  const search = get(OPT_DOMAIN_SEARCH);
  if (search !== undefined) repr.domainSearch = decodeDomainSearch(search);
  for (const k of Object.keys(repr) as Array<keyof DhcpRepr>) if (repr[k] === undefined) delete repr[k];
  return repr;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
const u32Bytes = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  put32(b, 0, v);
  return b;
};

/** The options of `repr` as [code, value] in emit order. */
function reprOptions(repr: DhcpRepr): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  if (repr.messageType !== undefined) out.push([OPT_MESSAGE_TYPE, Uint8Array.of(repr.messageType)]);
  if (repr.serverId !== undefined) out.push([OPT_SERVER_ID, u32Bytes(repr.serverId)]);
  if (repr.requestedIp !== undefined) out.push([OPT_REQUESTED_IP, u32Bytes(repr.requestedIp)]);
  if (repr.leaseTime !== undefined) out.push([OPT_LEASE_TIME, u32Bytes(repr.leaseTime)]);
  if (repr.renewalTime !== undefined) out.push([OPT_RENEWAL_TIME, u32Bytes(repr.renewalTime)]);
  if (repr.rebindingTime !== undefined) out.push([OPT_REBINDING_TIME, u32Bytes(repr.rebindingTime)]);
  if (repr.subnetMask !== undefined) out.push([OPT_SUBNET_MASK, u32Bytes(repr.subnetMask)]);
  if (repr.broadcast !== undefined) out.push([OPT_BROADCAST, u32Bytes(repr.broadcast)]);
  const list = (addrs: Ipv4Address[]): Uint8Array => {
    const b = new Uint8Array(addrs.length * 4);
    addrs.forEach((a, i) => put32(b, i * 4, a));
    return b;
  };
  if (repr.router?.length) out.push([OPT_ROUTER, list(repr.router)]);
  if (repr.dns?.length) out.push([OPT_DNS, list(repr.dns)]);
  if (repr.hostname !== undefined) out.push([OPT_HOSTNAME, ascii(repr.hostname)]);
  if (repr.domainName !== undefined) out.push([OPT_DOMAIN_NAME, ascii(repr.domainName)]);
  if (repr.mtu !== undefined) {
    const b = new Uint8Array(2);
    put16(b, 0, repr.mtu);
    out.push([OPT_INTERFACE_MTU, b]);
  }
  if (repr.maxMessageSize !== undefined) {
    const b = new Uint8Array(2);
    put16(b, 0, repr.maxMessageSize);
    out.push([OPT_MAX_SIZE, b]);
  }
  if (repr.parameterRequestList) out.push([OPT_PARAM_REQUEST, Uint8Array.from(repr.parameterRequestList)]);
  if (repr.clientId) out.push([OPT_CLIENT_ID, repr.clientId]);
  if (repr.domainSearch?.length) out.push([OPT_DOMAIN_SEARCH, encodeDomainSearch(repr.domainSearch)]);
  if (repr.message !== undefined) out.push([OPT_MESSAGE, ascii(repr.message)]);
  return out;
}

/** The emitted length: fixed part, cookie, options (split per RFC 3396 at 255), END, padded to 300. */
export function dhcpLen(repr: DhcpRepr): number {
  let n = BOOTP_FIXED_LEN + 4 + 1;
  for (const [, v] of reprOptions(repr)) n += v.length + 2 * Math.max(1, Math.ceil(v.length / 255));
  return Math.max(n, BOOTP_MIN_LEN);
}

/** Serialises at `buf[offset..]`; returns the offset after the message. */
export function emitDhcp(repr: DhcpRepr, buf: Uint8Array, offset = 0): number {
  const len = dhcpLen(repr);
  if (buf.length < offset + len) throw new WireError('too-big', `dhcp needs ${len} bytes`);
  buf.fill(0, offset, offset + len);
  buf[offset] = repr.op;
  buf[offset + 1] = 1;
  buf[offset + 2] = 6;
  put32(buf, offset + 4, repr.xid);
  put16(buf, offset + 8, repr.secs ?? 0);
  put16(buf, offset + 10, repr.flags ?? 0);
  put32(buf, offset + 12, repr.ciaddr ?? 0);
  put32(buf, offset + 16, repr.yiaddr ?? 0);
  put32(buf, offset + 20, repr.siaddr ?? 0);
  put32(buf, offset + 24, repr.giaddr ?? 0);
  buf.set(repr.chaddr.subarray(0, 6), offset + 28);
  put32(buf, offset + BOOTP_FIXED_LEN, DHCP_MAGIC_COOKIE);
  let i = offset + BOOTP_FIXED_LEN + 4;
  for (const [code, value] of reprOptions(repr)) {
    let done = 0;
    do {
      const chunk = Math.min(255, value.length - done);
      buf[i] = code;
      buf[i + 1] = chunk;
      buf.set(value.subarray(done, done + chunk), i + 2);
      i += 2 + chunk;
      done += chunk;
    } while (done < value.length);
  }
  buf[i] = OPT_END;
  return offset + len;
}
