import { defaultRegistry, type BackendConfig, type BackendFactory, type BackendRegistry } from '@netbe/core';
import { NetmapBackend } from './netmap-backend';

const TXSYNC = { name: 'txsync', description: 'frame (default): a txsync per frame, as bhyve | batch: one txsync per run of sends' };

const create = (config: BackendConfig): NetmapBackend =>
  NetmapBackend.open(config.name, undefined, { txsync: config.choice('txsync', 'frame', ['frame', 'batch'] as const) });

/** `netmap:IFNAME[-N|*|^|^N]`: a NIC (or its host rings) in netmap mode. */
export const netmapBackendFactory: BackendFactory = {
  prefix: 'netmap:',
  description: 'a network interface in netmap mode (needs /dev/netmap); -N selects ring pair N, ^ the host rings, * both',
  options: [TXSYNC],
  examples: ['netmap:eth0', 'netmap:eth0-1', 'netmap:eth0^', 'netmap:eth0,txsync=batch'],
  create,
};

/** `valeX:PORT`: a port of VALE software switch X, created on first open (bhyve's alias of netmap). */
export const valeBackendFactory: BackendFactory = {
  prefix: 'vale',
  description: 'a port of a VALE software switch (needs /dev/netmap); carries virtio-net headers and offloads',
  options: [TXSYNC],
  examples: ['vale0:vm1', 'valeA:guest2', 'vale0:vm1,txsync=batch'],
  create,
};

/** Registers both prefixes (a second call, or a second copy of this module, is a no-op). */
export function registerNetmapBackends(registry: BackendRegistry = defaultRegistry): void {
  registry.registerOnce(netmapBackendFactory);
  registry.registerOnce(valeBackendFactory);
}
