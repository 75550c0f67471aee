import { ConfigError } from './errors';

/** Ethernet MTU limits accepted for a NIC (bhyve: ETHERMIN 46 .. 65535). */
export const MTU_MIN = 46;
export const MTU_MAX = 65535;
export const MTU_DEFAULT = 1500;

/**
 * Parses `aa:bb:cc:dd:ee:ff` (also `-` separated). Rejects multicast (group bit set) and
 * all-zero addresses, as bhyve's net_parsemac does.
 */
export function parseMac(text: string, option = 'mac'): Uint8Array {
  const m = /^([0-9a-fA-F]{1,2})([:-])([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})$/.exec(text);
  if (!m) throw new ConfigError(option, `"${text}" is not a MAC address (expected aa:bb:cc:dd:ee:ff)`);
  const mac = new Uint8Array([m[1], m[3], m[4], m[5], m[6], m[7]].map((h) => parseInt(h!, 16)));
  if (mac[0]! & 1) throw new ConfigError(option, `${text} is a multicast address`);
  if (mac.every((b) => b === 0)) throw new ConfigError(option, `${text} is the all-zero address`);
  return mac;
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * A deterministic MAC for a device name: locally administered (bit 1 of the first octet set),
 * unicast, and the other 46 bits from a FNV-1a hash of the name. The same name always gets the
 * same address, so a VM keeps its MAC across restarts (bhyve's net_genmac hashes the VM name and
 * slot the same way, under its own OUI).
 */
export function defaultMac(name: string): Uint8Array {
  let lo = 0x811c9dc5;
  let hi = 0x01000193;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    lo = Math.imul(lo ^ c, 0x01000193) >>> 0;
    hi = Math.imul(hi ^ (c + i), 0x01000193) >>> 0;
  }
  const mac = new Uint8Array([(hi >>> 8) & 0xff, hi & 0xff, (lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff]);
  mac[0] = (mac[0]! & 0xfc) | 0x02; // locally administered, unicast
  return mac;
}

/** Parses an MTU in [46, 65535] (bhyve net_parsemtu). */
export function parseMtu(text: string, option = 'mtu'): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(option, `"${text}" is not a number`);
  const mtu = Number(text);
  if (mtu < MTU_MIN || mtu > MTU_MAX) throw new ConfigError(option, `${mtu} is outside ${MTU_MIN}..${MTU_MAX}`);
  return mtu;
}
