/**
 * Addresses. An IPv4 address is a uint32 number in host arithmetic (10.0.2.15 = 0x0a00020f), so
 * it can key a Map and be compared with `===` without allocation. A MAC is 6 bytes.
 */

export type Ipv4Address = number;
export type MacAddress = Uint8Array;

export const IPV4_ANY = 0;
export const IPV4_BROADCAST = 0xffffffff;

export function parseIpv4Address(text: string): Ipv4Address | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function formatIpv4(addr: Ipv4Address): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** The netmask with `prefix` leading one bits. */
export function prefixToMask(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
}

/** True when `a` is within the network `net`/`mask`. */
export function inSubnet(a: Ipv4Address, net: Ipv4Address, mask: number): boolean {
  return ((a & mask) >>> 0) === ((net & mask) >>> 0);
}

export function isLoopback(a: Ipv4Address): boolean {
  return a >>> 24 === 127;
}

export function isMulticast(a: Ipv4Address): boolean {
  return a >>> 28 === 0xe;
}

export const MAC_BROADCAST: MacAddress = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const MAC_ZERO: MacAddress = new Uint8Array(6);

export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff = 0): boolean {
  for (let i = 0; i < 6; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

export function isBroadcastMac(b: Uint8Array, off = 0): boolean {
  return (b[off]! & b[off + 1]! & b[off + 2]! & b[off + 3]! & b[off + 4]! & b[off + 5]!) === 0xff;
}

export function isMulticastMac(b: Uint8Array, off = 0): boolean {
  return (b[off]! & 1) === 1;
}

export function formatMacAddress(mac: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + mac[off + i]!.toString(16).padStart(2, '0');
  return s;
}

export function parseMacAddress(text: string): MacAddress | undefined {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (!m) return undefined;
  return new Uint8Array(m.slice(1, 7).map((h) => parseInt(h, 16)));
}

