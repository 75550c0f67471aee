/**
 * Adapts @netbe/virtio-net's {@link VirtioNetDevice} to the vhost-user transport: queue 0 RX,
 * queue 1 TX (one queue pair; QEMU keeps the control queue for itself with vhost-user).
 */
import type { VirtioNetDevice } from '@netbe/virtio-net';
import type { GuestMemory, SplitQueue } from '@netbe/virtio';
import type { VhostUserDevice } from './device';
import { VhostUserError } from './errors';

/** A RARP "reverse request" announcing `mac` (what QEMU sends after migration, announce_self_create). */
export function rarpFrame(mac: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  f.fill(0xff, 0, 6); // broadcast
  f.set(mac.subarray(0, 6), 6);
  f[12] = 0x80; // ETH_P_RARP 0x8035
  f[13] = 0x35;
  f[15] = 1; // htype Ethernet
  f[16] = 0x08; // ptype IPv4
  f[18] = 6; // hlen
  f[19] = 4; // plen
  f[21] = 3; // op: reverse request
  f.set(mac.subarray(0, 6), 22); // sender hardware address (sender IP 0)
  f.set(mac.subarray(0, 6), 32); // target hardware address (target IP 0)
  return f;
}

export class VhostUserNetDevice implements VhostUserDevice {
  readonly net: VirtioNetDevice;
  onInterrupt: (index: number) => void = () => {};
  /** The MTU the front-end reported with NET_SET_MTU, or 0. */
  hostMtu = 0;
  /** RARP announcements sent (SEND_RARP). */
  announcements = 0;
  private readonly running: boolean[];

  constructor(net: VirtioNetDevice) {
    this.net = net;
    this.running = new Array<boolean>(net.queueCount).fill(false);
    net.interrupt = (index) => this.onInterrupt(index);
  }

  get numQueues(): number {
    return this.net.queueCount;
  }

  get maxQueueSize(): number {
    return this.net.queueSize;
  }

  getFeatures(): bigint {
    return this.net.offeredFeatures;
  }

  setFeatures(features: bigint): void {
    if (this.net.featuresNegotiated && this.net.negotiated === features) return;
    if (this.running.some(Boolean)) throw new VhostUserError('ERR_PROTOCOL', 'SET_FEATURES: features cannot change while rings are running');
    // A front-end that starts the device again (guest driver reloaded) renegotiates from scratch.
    if (this.net.isStarted || this.net.featuresNegotiated) void this.net.reset();
    try {
      this.net.negotiate(features);
    } catch (e) {
      throw new VhostUserError('ERR_PROTOCOL', `SET_FEATURES: ${(e as Error).message}`, { cause: e });
    }
  }

  queue(index: number): SplitQueue {
    return this.net.queue(index);
  }

  setMemory(memory: GuestMemory | null): void {
    this.net.memory = memory;
  }

  setQueueRunning(index: number, running: boolean): void {
    this.running[index] = running;
    if (!running) {
      void this.net.stopQueue(index);
      return;
    }
    if (!this.net.startQueue(index)) {
      this.running[index] = false;
      throw new VhostUserError('ERR_MEMORY', `ring ${index}: ${this.net.queue(index).error?.message ?? 'rejected by the device'}`);
    }
    if (!this.net.isStarted) this.net.start();
  }

  kick(index: number): void {
    this.net.kick(index);
  }

  readConfig(offset: number, out: Uint8Array): void {
    this.net.readConfig(offset, out);
  }

  writeConfig(offset: number, data: Uint8Array): void {
    this.net.writeConfig(offset, data);
  }

  announce(mac: Uint8Array): void {
    const backend = this.net.backend;
    const frame = rarpFrame(mac);
    const hdr = backend.vnetHdrLen;
    if (hdr > 0) backend.send([new Uint8Array(hdr), frame], 2);
    else backend.send([frame], 1);
    this.announcements++;
  }

  setMtu(mtu: number): void {
    if (!(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) throw new RangeError(`MTU ${mtu} is outside 68..65535`);
    this.hostMtu = mtu;
  }

  reset(): void {
    this.running.fill(false);
    void this.net.reset();
  }
}
