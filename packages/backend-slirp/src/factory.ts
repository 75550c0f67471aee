import { registerBackend, defaultRegistry, type BackendFactory } from '@netbe/core';
import { SlirpBackend } from './backend';
import { SLIRP_OPTIONS } from './options';

export const slirpBackendFactory: BackendFactory = {
  prefix: 'slirp',
  description: 'user-mode NAT: DHCP, DNS forwarding, ICMP echo, UDP/TCP NAT to host sockets, hostfwd (no root needed)',
  options: [
    ...SLIRP_OPTIONS,
    { name: 'icmp', description: 'on (default): forward pings through a raw ICMP socket when permitted; off: answer only the gateway/DNS' },
    { name: 'debug', description: 'on: log every flow to stderr' },
  ],
  examples: ['slirp', 'slirp,hostfwd=tcp::2222-:22', 'slirp,net=10.1.0.0/24,dnssearch=example.test,restrict=on', 'slirp,loopback=on,hostfwd=udp:127.0.0.1:5555-:7'],
  create: (config) => SlirpBackend.create(config),
};

/** Registers the `slirp` prefix in the default registry (idempotent). */
export function registerSlirpBackend(): void {
  if (!defaultRegistry.list().some((f) => f.prefix === slirpBackendFactory.prefix)) registerBackend(slirpBackendFactory);
}
