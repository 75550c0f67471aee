import { ConfigError, type BackendConfig } from '@netbe/core';

/** What a tap config string resolves to. */
export interface TapOptions {
  /** The interface name; '' lets the kernel pick (`tap%d`). */
  ifname: string;
  /** Open with IFF_VNET_HDR: offloads pass through to the kernel (default on). */
  vnetHdr: boolean;
  /** Set IFF_UP on the interface after opening (default on). */
  up: boolean;
  /** The clone device (default /dev/net/tun). */
  device: string;
  /** The name used for logs: the config string. */
  name: string;
}

/** Linux IFNAMSIZ - 1. */
export const IFNAME_MAX = 15;

/**
 * Checks an interface name the way the kernel's dev_valid_name does, so the error names the
 * option and the reason instead of an errno: 1..15 bytes, not `.` or `..`, no `/`, `:` or space.
 * `%d` is allowed once (the kernel numbers it).
 */
export function checkIfname(ifname: string, option = 'ifname'): string {
  const bytes = new TextEncoder().encode(ifname).length;
  if (bytes === 0) throw new ConfigError(option, 'the interface name is empty');
  if (bytes > IFNAME_MAX) {
    throw new ConfigError(option, `interface name "${ifname}" is ${bytes} bytes; Linux allows at most ${IFNAME_MAX} (IFNAMSIZ - 1)`);
  }
  if (ifname === '.' || ifname === '..') throw new ConfigError(option, `"${ifname}" is not a valid interface name`);
  if (/[/:\s\0]/.test(ifname)) throw new ConfigError(option, `interface name "${ifname}" contains '/', ':', a space or NUL`);
  return ifname;
}

/**
 * Accepts bhyve's names and a QEMU-like form:
 *   `tap0`                          → interface tap0
 *   `tap:NAME`                      → interface NAME
 *   `tap,ifname=NAME,vnet_hdr=off`  → interface NAME (just `tap`: the kernel picks tapN)
 *   `vm1,type=tap`                  → interface vm1 (bhyve's `type=` for a renamed tap)
 */
export function parseTapConfig(config: BackendConfig): TapOptions {
  let ifname = config.get('ifname');
  if (ifname === undefined) {
    if (config.name.startsWith('tap:')) ifname = config.name.slice(4);
    else if (config.name === 'tap') ifname = 'tap%d';
    else ifname = config.name;
  }
  checkIfname(ifname, config.has('ifname') ? 'ifname' : 'backend');
  const device = config.get('device') ?? '/dev/net/tun';
  if (device === '') throw new ConfigError('device', 'the clone device path is empty');
  return {
    ifname,
    vnetHdr: config.bool('vnet_hdr', true),
    up: config.bool('up', true),
    device,
    name: config.toString(),
  };
}
