/**
 * A test guest: a virtio-net device driven through MockDriver rings and a DeviceStatus, exactly
 * as a driver would (status handshake, queue set-up, kicks, interrupts). Not a test file.
 */
import type { NetBackend } from '@netbe/core';
import { DeviceStatus, GuestMemory } from '@netbe/virtio';
import { MockDriver, guardedMemory } from '@netbe/virtio/testing';
import { RX_QUEUE, TX_QUEUE, VirtioNetDevice, type VirtioNetDeviceOptions } from '../index';

export interface GuestOptions extends Partial<VirtioNetDeviceOptions> {
  backend: NetBackend;
  /** Features the driver wants (intersected with what is offered). Default: everything offered. */
  wanted?: bigint;
  /** Ring size the driver uses; default 256. */
  ringSize?: number;
  /** Per queue guest memory (bytes); default 8 MiB. */
  memoryPerQueue?: number;
  /** Start right away (negotiate, queues, DRIVER_OK). Default true. */
  start?: boolean;
  /** Legacy status machine (no FEATURES_OK, 32-bit features). */
  legacy?: boolean;
}

export interface ReceivedFrame {
  header: Uint8Array;
  frame: Uint8Array;
  buffers: number;
}

export interface PostOptions {
  segmentSize?: number;
  indirect?: boolean;
}

export const RX_BASE = 0;
export const TX_BASE = 0x4000000;

export class TestGuest {
  device: VirtioNetDevice;
  status: DeviceStatus;
  readonly memory: GuestMemory;
  rxDriver: MockDriver;
  txDriver: MockDriver;
  readonly guardsIntact: () => boolean;
  features = 0n;
  readonly interrupts = [0, 0];
  configChanges = 0;
  /** Frames received whose num_buffers continuation is still incomplete. */
  private partial: { header: Uint8Array; parts: Uint8Array[]; left: number } | null = null;

  constructor(readonly options: GuestOptions) {
    const per = options.memoryPerQueue ?? 8 << 20;
    const g = guardedMemory([
      { guestPhysAddr: RX_BASE, size: per },
      { guestPhysAddr: TX_BASE, size: per },
    ]);
    this.memory = g.memory;
    this.guardsIntact = g.guardsIntact;
    const ringSize = options.ringSize ?? 256;
    this.rxDriver = new MockDriver({ memory: new GuestMemory([this.memory.regions[0]!]), queueSize: ringSize });
    this.txDriver = new MockDriver({ memory: new GuestMemory([this.memory.regions[1]!]), queueSize: ringSize });
    this.device = this.makeDevice();
    this.status = this.makeStatus();
    this.wireKicks();
    if (options.start ?? true) this.start();
  }

  private makeDevice(): VirtioNetDevice {
    const device = new VirtioNetDevice({
      ...this.options,
      interrupt: (q) => {
        this.interrupts[q]!++;
        (q === RX_QUEUE ? this.rxDriver : this.txDriver).interrupt();
      },
      configChanged: () => {
        this.configChanges++;
      },
    });
    device.memory = this.memory;
    return device;
  }

  private makeStatus(): DeviceStatus {
    const device = this.device;
    return new DeviceStatus({
      deviceFeatures: this.options.legacy ? device.offeredFeatures & 0xffffffffn : device.offeredFeatures,
      legacy: this.options.legacy ?? false,
      validateFeatures: (f) => device.checkFeatures(f) === null,
      onFeatures: (f) => device.negotiate(f),
      onDriverOk: () => device.start(),
      onReset: () => void device.reset(),
    });
  }

  private wireKicks(): void {
    this.rxDriver.onKick = () => this.device.kick(RX_QUEUE);
    this.txDriver.onKick = () => this.device.kick(TX_QUEUE);
  }

  /**
   * Migration: a new device on the same backend and guest memory, restored from `snapshot`
   * (after a JSON round trip), then resumed. The drivers keep their rings.
   */
  replaceDevice(snapshot: unknown): VirtioNetDevice {
    this.device = this.makeDevice();
    this.device.restore(JSON.parse(JSON.stringify(snapshot)));
    this.status = this.makeStatus();
    this.wireKicks();
    this.device.resume();
    return this.device;
  }

  /** The driver starts over after a device reset: fresh rings over the same memory, start-up again. */
  reinit(): void {
    const ringSize = this.options.ringSize ?? 256;
    this.rxDriver = new MockDriver({ memory: new GuestMemory([this.memory.regions[0]!]), queueSize: ringSize });
    this.txDriver = new MockDriver({ memory: new GuestMemory([this.memory.regions[1]!]), queueSize: ringSize });
    this.partial = null;
    this.status.writeStatus(0);
    this.wireKicks();
    this.start();
  }

  /** The driver's start-up: status handshake, features, both queues, DRIVER_OK. */
  start(): void {
    const wanted = this.options.wanted ?? this.device.offeredFeatures;
    this.features = this.rxDriver.negotiate(this.status, wanted);
    this.txDriver.setFeatures(this.features);
    this.attachQueues();
    this.rxDriver.driverOk(this.status);
  }

  attachQueues(): void {
    for (const [index, driver] of [
      [RX_QUEUE, this.rxDriver],
      [TX_QUEUE, this.txDriver],
    ] as const) {
      const q = this.device.queue(index);
      q.size = driver.size;
      q.descAddr = driver.descAddr;
      q.availAddr = driver.availAddr;
      q.usedAddr = driver.usedAddr;
      if (!this.device.startQueue(index)) throw new Error(`queue ${index} did not start: ${q.error?.message}`);
    }
  }

  get headerLength(): number {
    return this.device.guestHeaderLength;
  }

  /** Posts `count` receive chains of `size` writable bytes and kicks. Returns how many were posted. */
  postRx(count: number, size: number, options: PostOptions = {}): number {
    let posted = 0;
    for (let i = 0; i < count; i++) {
      if (this.rxDriver.post({ writable: [size], ...options }) < 0) break;
      posted++;
    }
    if (posted > 0) this.rxDriver.kick();
    return posted;
  }

  /** Transmits one frame with a zero header (or `header`) in front. Returns the head or -1. */
  send(frame: Uint8Array, options: PostOptions & { header?: Uint8Array; kick?: boolean } = {}): number {
    const header = options.header ?? new Uint8Array(this.headerLength);
    const head = this.txDriver.post({ readable: [header, frame], segmentSize: options.segmentSize, indirect: options.indirect });
    if (head >= 0 && (options.kick ?? true)) this.txDriver.kick();
    return head;
  }

  /** Reads the TX used ring (frees buffers). */
  completeTx(): number {
    return this.txDriver.takeAllUsed().length;
  }

  /** Reads the RX used ring and reassembles frames (num_buffers with MRG_RXBUF). */
  receive(): ReceivedFrame[] {
    const out: ReceivedFrame[] = [];
    const hdr = this.headerLength;
    const mergeable = this.device.guestHeaderLength === 12 && (this.features & (1n << 15n)) !== 0n;
    for (const used of this.rxDriver.takeAllUsed()) {
      if (!used.known) throw new Error(`device returned unknown RX head ${used.id}`);
      if (this.partial !== null) {
        this.partial.parts.push(used.written);
        if (--this.partial.left === 0) {
          out.push(finish(this.partial.header, this.partial.parts));
          this.partial = null;
        }
        continue;
      }
      if (used.len === 0) continue; // a buffer the device gave back unused
      if (used.written.length < hdr) throw new Error(`RX used length ${used.len} is shorter than the header`);
      const header = used.written.slice(0, hdr);
      const buffers = mergeable ? header[10]! | (header[11]! << 8) : 1;
      const first = used.written.subarray(hdr);
      if (buffers > 1) this.partial = { header, parts: [first], left: buffers - 1 };
      else out.push({ header, frame: Uint8Array.from(first), buffers: 1 });
    }
    return out;
  }
}

function finish(header: Uint8Array, parts: Uint8Array[]): ReceivedFrame {
  const total = parts.reduce((s, p) => s + p.length, 0);
  const frame = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    frame.set(p, at);
    at += p.length;
  }
  return { header, frame, buffers: parts.length };
}
