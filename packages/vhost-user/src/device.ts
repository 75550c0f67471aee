import type { GuestMemory, SplitQueue } from '@netbe/virtio';

/**
 * What the vhost-user transport needs from a device. The transport owns the protocol and the
 * ring *programming* (size, addresses, indices, memory); the device owns what happens on a kick
 * and when it wants to interrupt. `virtio-net-device.ts` adapts @netbe/virtio-net's device.
 */
export interface VhostUserDevice {
  /** Number of virtqueues (2 per queue pair for a NIC; vhost-user has no control queue). */
  readonly numQueues: number;
  /** Largest ring size the device accepts. */
  readonly maxQueueSize: number;
  /** The virtio feature bits the device offers (device type bits and ring bits). */
  getFeatures(): bigint;
  /** The front-end's choice (a subset of getFeatures, checked by the transport). */
  setFeatures(features: bigint): void;
  /** Virtqueue `index`, which the transport programs before it starts the ring. */
  queue(index: number): SplitQueue;
  /** The guest memory changed (SET_MEM_TABLE) or went away (null, on reset). */
  setMemory(memory: GuestMemory | null): void;
  /** Ring `index` starts (true) or stops (false) being processed: started, enabled, memory present. */
  setQueueRunning(index: number, running: boolean): void;
  /** The front-end kicked ring `index`. */
  kick(index: number): void;
  /** Set by the transport: the device calls it to interrupt the guest for ring `index`. */
  onInterrupt: (index: number) => void;
  /** Reads/writes the device-specific config space (GET/SET_CONFIG). Out of range: throws RangeError. */
  readConfig(offset: number, out: Uint8Array): void;
  writeConfig(offset: number, data: Uint8Array): void;
  /** SEND_RARP: announce `mac` on the network (a RARP broadcast) after a migration. */
  announce(mac: Uint8Array): void;
  /** NET_SET_MTU: the front-end's host MTU. Out of range: throws RangeError. */
  setMtu(mtu: number): void;
  /** Back to the state of a freshly plugged device (connection lost, RESET_OWNER, RESET_DEVICE). */
  reset(): void;
}
