import { DeviceStatus, STATUS_DRIVER_OK } from '@netbe/virtio';
import type { VirtioNetDevice } from '../device';
import type { NetDeviceSnapshot } from '../snapshot';
import { PciInterrupts, type PciInterruptState } from './interrupts';
import { ModernCommonConfig, type CommonConfigState } from './modern-common-cfg';
import type { MsiDeliver } from './msix';
import { replayStatus } from './status-replay';
import { COMMON_DEVICE_STATUS } from './common-cfg-offsets';
import {
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_CAP_ISR_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG,
  PCI_CAP_ID_VNDR,
  MODERN_COMMON_OFFSET,
  MODERN_ISR_OFFSET,
  MODERN_DEVICE_OFFSET,
  MODERN_NOTIFY_OFFSET,
  MODERN_BAR_SIZE,
  MODERN_NOTIFY_OFF_MULTIPLIER,
} from './modern-layout';

/** One virtio_pci_cap the VMM places in PCI config space. */
export interface VirtioPciCapability {
  cfgType: number;
  bar: number;
  offset: number;
  length: number;
  /** Only for the notify capability (struct virtio_pci_notify_cap). */
  notifyOffMultiplier?: number;
}

export interface ModernVirtioPciOptions {
  /** The BAR index the VMM maps the structures at (default 4). */
  bar?: number;
  setIntx?: (level: boolean) => void;
  deliverMsi?: MsiDeliver;
}

export interface ModernPciSnapshot {
  version: 1;
  device: NetDeviceSnapshot;
  status: number;
  driverFeatures: string;
  common: CommonConfigState;
  interrupts: PciInterruptState;
}

/**
 * The modern (virtio 1.x) virtio-PCI function of a virtio-net device: common configuration, ISR,
 * device configuration and notification structures in one memory BAR, described by the vendor
 * capabilities of {@link capabilities}. A VMM forwards accesses to that BAR to {@link read} and
 * {@link write}, MSI-X table accesses to `interrupts.msix`, and places the capability bytes
 * ({@link capabilityBytes}) in config space. PCI IDs: vendor 0x1af4, device 0x1041.
 *
 * Not provided: the PCI configuration access capability (VIRTIO_PCI_CAP_PCI_CFG), queue_reset,
 * notification data, the packed ring.
 */
export class ModernVirtioPci {
  readonly status: DeviceStatus;
  readonly interrupts: PciInterrupts;
  readonly common: ModernCommonConfig;
  readonly bar: number;
  badAccesses = 0;
  private replaying = false;

  constructor(
    readonly device: VirtioNetDevice,
    options: ModernVirtioPciOptions = {},
  ) {
    this.bar = options.bar ?? 4;
    this.interrupts = new PciInterrupts(device.queueCount, { setIntx: options.setIntx, deliverMsi: options.deliverMsi, vectors: device.queueCount + 1 });
    this.status = new DeviceStatus({
      deviceFeatures: device.offeredFeatures,
      validateFeatures: (features) => device.checkFeatures(features) === null,
      onFeatures: (features) => this.replaying || this.applyFeatures(features),
      onDriverOk: () => this.replaying || device.start(),
      onNeedsReset: () => this.replaying || this.interrupts.config(),
    });
    this.common = new ModernCommonConfig(device, this.status, this.interrupts);
    device.interrupt = (queue) => this.interrupts.queue(queue);
    device.configChanged = () => this.interrupts.config();
    device.queueError = (_queue, error) => this.status.needsReset(error);
  }

  /** The four capabilities to chain in PCI config space. */
  capabilities(): VirtioPciCapability[] {
    return [
      { cfgType: VIRTIO_PCI_CAP_COMMON_CFG, bar: this.bar, offset: MODERN_COMMON_OFFSET, length: 0x1000 },
      { cfgType: VIRTIO_PCI_CAP_ISR_CFG, bar: this.bar, offset: MODERN_ISR_OFFSET, length: 0x1000 },
      { cfgType: VIRTIO_PCI_CAP_DEVICE_CFG, bar: this.bar, offset: MODERN_DEVICE_OFFSET, length: 0x1000 },
      { cfgType: VIRTIO_PCI_CAP_NOTIFY_CFG, bar: this.bar, offset: MODERN_NOTIFY_OFFSET, length: 0x1000, notifyOffMultiplier: MODERN_NOTIFY_OFF_MULTIPLIER },
    ];
  }

  /**
   * struct virtio_pci_cap (16 bytes; virtio_pci_notify_cap 20) with `next` as cap_next:
   * cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2], le32 offset, le32 length.
   */
  static capabilityBytes(cap: VirtioPciCapability, next: number): Uint8Array {
    const len = cap.notifyOffMultiplier === undefined ? 16 : 20;
    const out = new Uint8Array(len);
    const view = new DataView(out.buffer);
    out[0] = PCI_CAP_ID_VNDR;
    out[1] = next;
    out[2] = len;
    out[3] = cap.cfgType;
    out[4] = cap.bar;
    view.setUint32(8, cap.offset, true);
    view.setUint32(12, cap.length, true);
    if (cap.notifyOffMultiplier !== undefined) view.setUint32(16, cap.notifyOffMultiplier, true);
    return out;
  }

  /** A read of `size` (1, 2, 4; 8 for the queue addresses) bytes at `offset` in the BAR. */
  read(offset: number, size: number): number {
    if (offset >= MODERN_COMMON_OFFSET && offset < MODERN_ISR_OFFSET) return this.common.read(offset - MODERN_COMMON_OFFSET, size);
    if (offset === MODERN_ISR_OFFSET && size === 1) return this.interrupts.readIsr();
    if (offset >= MODERN_DEVICE_OFFSET && offset < MODERN_NOTIFY_OFFSET) {
      const at = offset - MODERN_DEVICE_OFFSET;
      if ((size === 1 || size === 2 || size === 4) && at + size <= this.device.config.size && at % size === 0) return this.device.config.readValue(at, size);
    }
    this.badAccesses++;
    return 0;
  }

  write(offset: number, size: number, value: number): void {
    if (offset >= MODERN_COMMON_OFFSET && offset < MODERN_ISR_OFFSET) {
      const at = offset - MODERN_COMMON_OFFSET;
      if (at === COMMON_DEVICE_STATUS && size === 1 && (value & 0xff) === 0) this.resetFromDriver();
      else this.common.write(at, size, value);
      return;
    }
    if (offset >= MODERN_NOTIFY_OFFSET && offset < MODERN_BAR_SIZE && size === 2 && (offset - MODERN_NOTIFY_OFFSET) % MODERN_NOTIFY_OFF_MULTIPLIER === 0) {
      const queue = (offset - MODERN_NOTIFY_OFFSET) / MODERN_NOTIFY_OFF_MULTIPLIER;
      // The value written is the queue index (without VIRTIO_F_NOTIFICATION_DATA, §4.1.5.2).
      if (queue < this.device.queueCount && (value & 0xffff) === queue && (this.status.status & STATUS_DRIVER_OK) !== 0) this.device.kick(queue);
      return;
    }
    if (offset >= MODERN_DEVICE_OFFSET && offset < MODERN_NOTIFY_OFFSET) {
      const at = offset - MODERN_DEVICE_OFFSET;
      // §5.1.4.2: the driver MUST NOT write the config of a VERSION_1 device; ignored (MAC only legacy).
      if ((size === 1 || size === 2 || size === 4) && at + size <= this.device.config.size) this.device.config.writeValue(at, size, value);
      else this.badAccesses++;
      return;
    }
    this.badAccesses++;
  }

  snapshot(): ModernPciSnapshot {
    return {
      version: 1,
      device: this.device.snapshot(),
      status: this.status.status,
      driverFeatures: this.status.driverFeatures.toString(16),
      common: this.common.saveState(),
      interrupts: this.interrupts.saveState(),
    };
  }

  /** Restores a {@link snapshot}; guest memory must be set on the device. The device stays paused. */
  restore(snapshot: ModernPciSnapshot): void {
    if (snapshot?.version !== 1) throw new RangeError('modern PCI snapshot: unknown version');
    this.device.restore(snapshot.device);
    this.interrupts.restoreState(snapshot.interrupts);
    this.common.restoreState(snapshot.common);
    replayStatus(
      this.status,
      snapshot.status,
      BigInt(`0x${snapshot.driverFeatures}`),
      () => {
        this.replaying = true;
      },
      () => {
        this.replaying = false;
      },
    );
  }

  /** device_status ← 0: transport state now, device reset when its pass in progress ends. */
  private resetFromDriver(): void {
    const previous = this.status.status;
    this.status.writeStatus(0);
    this.interrupts.reset();
    const done = this.device.reset();
    // Completed already unless a processing pass is running (then reads show the old status).
    if (this.device.settling) this.common.beginReset(previous, done);
    else this.common.beginReset(0, Promise.resolve());
  }

  private applyFeatures(features: bigint): void {
    try {
      this.device.negotiate(features);
    } catch (error) {
      this.status.needsReset(error as never);
    }
  }
}
