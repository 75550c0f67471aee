import { defaultRegistry, type BackendConfig, type BackendFactory, type BackendRegistry } from '@netbe/core';
import { parseTapConfig } from './options';
import { TapBackend } from './tap-backend';

/** Opens the tap a config names (`tap0`, `tap:NAME`, `tap,ifname=NAME,vnet_hdr=on|off`). */
export function createTapBackend(config: BackendConfig): TapBackend {
  return new TapBackend(parseTapConfig(config));
}

export const tapBackendFactory: BackendFactory = {
  prefix: 'tap',
  description: 'a Linux tap interface (/dev/net/tun); with vnet_hdr=on, checksum and TSO/UFO offloads pass through to the kernel',
  options: [
    { name: 'ifname', description: 'the interface name (at most 15 bytes); default: the name itself (tap0), NAME in tap:NAME, or the kernel picks' },
    { name: 'vnet_hdr', description: 'on (default): IFF_VNET_HDR, offloads negotiated with the guest; off: plain frames, as bhyve' },
    { name: 'up', description: 'on (default): set IFF_UP on the interface after opening it' },
    { name: 'device', description: 'the tun clone device (default /dev/net/tun)' },
  ],
  examples: ['tap0', 'tap:vm1-eth0', 'tap,ifname=tap7,vnet_hdr=off', 'vm1,type=tap'],
  create: createTapBackend,
};

/** Registers the `tap` prefix (a second call is a no-op). */
export function registerTapBackend(registry: BackendRegistry = defaultRegistry): void {
  registry.registerOnce(tapBackendFactory);
}
