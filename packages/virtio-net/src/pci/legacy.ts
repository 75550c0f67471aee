import { DeviceStatus, availRingBytes, descTableBytes, STATUS_DRIVER_OK } from '@netbe/virtio';
import { replayStatus } from './status-replay';
import { matchesField, type RegisterField } from './register-field';
import type { VirtioNetDevice } from '../device';
import type { NetDeviceSnapshot } from '../snapshot';
import { PciInterrupts, type PciInterruptState, VIRTIO_MSI_NO_VECTOR } from './interrupts';
import type { MsiDeliver } from './msix';
import {
  LEGACY_HOST_FEATURES,
  LEGACY_GUEST_FEATURES,
  LEGACY_QUEUE_PFN,
  LEGACY_QUEUE_NUM,
  LEGACY_QUEUE_SEL,
  LEGACY_QUEUE_NOTIFY,
  LEGACY_STATUS,
  LEGACY_ISR,
  LEGACY_MSI_CONFIG_VECTOR,
  LEGACY_MSI_QUEUE_VECTOR,
  LEGACY_CONFIG_OFFSET,
  LEGACY_CONFIG_OFFSET_MSIX,
  LEGACY_PFN_SHIFT,
  LEGACY_VRING_ALIGN,
} from './legacy-registers';

/** Where a legacy driver's rings are, for a ring of `size` entries at page `pfn` (bhyve vi_vq_init). */
export function legacyRingLayout(pfn: number, size: number): { desc: number; avail: number; used: number; bytes: number } {
  const desc = pfn * (1 << LEGACY_PFN_SHIFT);
  const avail = desc + descTableBytes(size);
  const usedOffset = Math.ceil((descTableBytes(size) + availRingBytes(size)) / LEGACY_VRING_ALIGN) * LEGACY_VRING_ALIGN;
  const used = desc + usedOffset;
  const bytes = Math.ceil((usedOffset + 6 + 8 * size) / LEGACY_VRING_ALIGN) * LEGACY_VRING_ALIGN;
  return { desc, avail, used, bytes };
}

export interface LegacyVirtioPciOptions {
  /** INTx pin level (asserted until the driver reads the ISR). */
  setIntx?: (level: boolean) => void;
  /** MSI-X message delivery (address, data). */
  deliverMsi?: MsiDeliver;
}

export interface LegacyPciSnapshot {
  version: 1;
  device: NetDeviceSnapshot;
  status: number;
  driverFeatures: string;
  queueSelect: number;
  pfns: number[];
  interrupts: PciInterruptState;
}

const REGISTERS: readonly RegisterField[] = [
  { offset: LEGACY_HOST_FEATURES, size: 4 },
  { offset: LEGACY_GUEST_FEATURES, size: 4 },
  { offset: LEGACY_QUEUE_PFN, size: 4 },
  { offset: LEGACY_QUEUE_NUM, size: 2 },
  { offset: LEGACY_QUEUE_SEL, size: 2 },
  { offset: LEGACY_QUEUE_NOTIFY, size: 2 },
  { offset: LEGACY_STATUS, size: 1 },
  { offset: LEGACY_ISR, size: 1 },
];
const MSIX_REGISTERS: readonly RegisterField[] = [
  { offset: LEGACY_MSI_CONFIG_VECTOR, size: 2 },
  { offset: LEGACY_MSI_QUEUE_VECTOR, size: 2 },
];

const ones = (size: number): number => (size === 4 ? 0xffffffff : (1 << (8 * size)) - 1);

/**
 * The legacy (virtio 0.9.5 / transitional) virtio-PCI function of a virtio-net device: BAR0 I/O
 * registers as bhyve's vi_pci_read/vi_pci_write lay them out, device config behind them, INTx with
 * a read-to-clear ISR, and an MSI-X table (queues + 1 vectors) for BAR1. A VMM written in JS
 * forwards BAR0 accesses to {@link read}/{@link write}, MSI-X table accesses to `interrupts.msix`,
 * and the MSI-X capability's control bits to `interrupts.msix.setControl`.
 *
 * Only the low 32 feature bits exist here (no VERSION_1). Accesses must match a register's offset
 * and size (1, 2 or 4 bytes); others read as all ones and are ignored on write (counted in
 * `badAccesses`). Queues are processed only after DRIVER_OK (virtio 1.2 §3.1.1).
 */
export class LegacyVirtioPci {
  readonly status: DeviceStatus;
  readonly interrupts: PciInterrupts;
  /** Accesses to no register, of a wrong size, or writes to a read-only register. */
  badAccesses = 0;
  private queueSelect = 0;
  /** True while a restore replays the status machine: its callbacks must not touch the device. */
  private replaying = false;
  private readonly pfns: number[];

  constructor(
    readonly device: VirtioNetDevice,
    options: LegacyVirtioPciOptions = {},
  ) {
    this.pfns = new Array<number>(device.queueCount).fill(0);
    this.interrupts = new PciInterrupts(device.queueCount, { setIntx: options.setIntx, deliverMsi: options.deliverMsi, vectors: device.queueCount + 1 });
    this.status = new DeviceStatus({
      deviceFeatures: device.offeredFeatures & 0xffffffffn,
      legacy: true,
      onReset: () => this.replaying || this.resetFunction(),
      onFeatures: (features) => this.replaying || this.applyFeatures(features),
      onDriverOk: () => this.replaying || this.device.start(),
      onNeedsReset: () => this.replaying || this.interrupts.config(),
    });
    device.interrupt = (queue) => this.interrupts.queue(queue);
    device.configChanged = () => this.interrupts.config();
    device.queueError = (_queue, error) => this.status.needsReset(error);
  }

  /** Where device config starts: 24 with MSI-X enabled, else 20. */
  get configOffset(): number {
    return this.interrupts.msixEnabled ? LEGACY_CONFIG_OFFSET_MSIX : LEGACY_CONFIG_OFFSET;
  }

  /** BAR0 size to request: the registers with MSI-X plus device config, rounded to a power of two. */
  get barSize(): number {
    let size = 1;
    while (size < LEGACY_CONFIG_OFFSET_MSIX + this.device.config.size) size *= 2;
    return size;
  }

  /** A BAR0 read of `size` (1, 2, 4) bytes at `offset`. */
  read(offset: number, size: number): number {
    if (size !== 1 && size !== 2 && size !== 4) return this.bad(0xffffffff);
    const cfg = this.configOffset;
    if (offset >= cfg) {
      const at = offset - cfg;
      if (at + size > this.device.config.size) return this.bad(ones(size));
      return this.device.config.readValue(at, size);
    }
    if (!this.isRegister(offset, size)) return this.bad(ones(size));
    const sel = this.queueSelect;
    switch (offset) {
      case LEGACY_HOST_FEATURES:
        return this.status.readDeviceFeatures(0);
      case LEGACY_GUEST_FEATURES:
        return Number(this.status.negotiated & 0xffffffffn);
      case LEGACY_QUEUE_PFN:
        return sel < this.pfns.length ? this.pfns[sel]! : 0;
      case LEGACY_QUEUE_NUM:
        return sel < this.pfns.length ? this.device.queue(sel).maxSize : 0;
      case LEGACY_QUEUE_SEL:
        return sel;
      case LEGACY_QUEUE_NOTIFY:
        return 0;
      case LEGACY_STATUS:
        return this.status.status;
      case LEGACY_ISR:
        return this.interrupts.readIsr();
      case LEGACY_MSI_CONFIG_VECTOR:
        return this.interrupts.configVector;
      case LEGACY_MSI_QUEUE_VECTOR:
        return sel < this.pfns.length ? this.interrupts.queueVectors[sel]! : VIRTIO_MSI_NO_VECTOR;
      default:
        return this.bad(ones(size));
    }
  }

  /** A BAR0 write of `size` (1, 2, 4) bytes at `offset`. */
  write(offset: number, size: number, value: number): void {
    if (size !== 1 && size !== 2 && size !== 4) {
      this.badAccesses++;
      return;
    }
    value = size === 4 ? value >>> 0 : value & ones(size);
    const cfg = this.configOffset;
    if (offset >= cfg) {
      const at = offset - cfg;
      if (at + size > this.device.config.size) this.badAccesses++;
      else this.device.config.writeValue(at, size, value);
      return;
    }
    if (!this.isRegister(offset, size)) {
      this.badAccesses++;
      return;
    }
    const sel = this.queueSelect;
    switch (offset) {
      case LEGACY_GUEST_FEATURES:
        this.status.writeDriverFeaturesWord(0, value);
        return;
      case LEGACY_QUEUE_PFN:
        if (sel < this.pfns.length) this.setPfn(sel, value);
        else this.badAccesses++;
        return;
      case LEGACY_QUEUE_SEL:
        this.queueSelect = value;
        return;
      case LEGACY_QUEUE_NOTIFY:
        // Before DRIVER_OK the device uses no buffers (§3.1.1); start() processes what is waiting.
        if (value < this.pfns.length) {
          if ((this.status.status & STATUS_DRIVER_OK) !== 0) this.device.kick(value);
        } else this.badAccesses++;
        return;
      case LEGACY_STATUS:
        this.status.writeStatus(value);
        return;
      case LEGACY_MSI_CONFIG_VECTOR:
        this.interrupts.configVector = this.interrupts.acceptVector(value);
        return;
      case LEGACY_MSI_QUEUE_VECTOR:
        if (sel < this.pfns.length) this.interrupts.queueVectors[sel] = this.interrupts.acceptVector(value);
        return;
      default:
        // HOST_FEATURES, QUEUE_NUM, ISR are read-only.
        this.badAccesses++;
    }
  }

  /** The transport and device state as plain JSON (pause the device first). */
  snapshot(): LegacyPciSnapshot {
    return {
      version: 1,
      device: this.device.snapshot(),
      status: this.status.status,
      driverFeatures: this.status.driverFeatures.toString(16),
      queueSelect: this.queueSelect,
      pfns: [...this.pfns],
      interrupts: this.interrupts.saveState(),
    };
  }

  /**
   * Restores a {@link snapshot} (guest memory must be set on the device). The device is left
   * paused; call `device.resume()`.
   */
  restore(snapshot: LegacyPciSnapshot): void {
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.pfns) || snapshot.pfns.length !== this.pfns.length) throw new RangeError('legacy PCI snapshot: unknown version or wrong queue count');
    this.device.restore(snapshot.device);
    this.interrupts.restoreState(snapshot.interrupts);
    replayStatus(this.status, snapshot.status, BigInt(`0x${snapshot.driverFeatures}`), () => {
      this.replaying = true;
    }, () => {
      this.replaying = false;
    });
    this.queueSelect = snapshot.queueSelect & 0xffff;
    for (let i = 0; i < this.pfns.length; i++) this.pfns[i] = snapshot.pfns[i]! >>> 0;
  }

  private setPfn(queue: number, pfn: number): void {
    this.pfns[queue] = pfn;
    if (pfn === 0) {
      // A zero PFN forgets the queue (the Linux legacy driver writes it when it deletes a queue).
      this.device.resetQueue(queue);
      return;
    }
    const q = this.device.queue(queue);
    const layout = legacyRingLayout(pfn, q.maxSize);
    q.size = q.maxSize;
    q.descAddr = layout.desc;
    q.availAddr = layout.avail;
    q.usedAddr = layout.used;
    this.device.startQueue(queue);
  }

  private applyFeatures(features: bigint): void {
    try {
      this.device.negotiate(features);
    } catch (error) {
      this.status.needsReset(error as never);
    }
  }

  private resetFunction(): void {
    this.queueSelect = 0;
    this.pfns.fill(0);
    this.interrupts.reset();
    void this.device.reset();
  }

  private isRegister(offset: number, size: number): boolean {
    return matchesField(REGISTERS, offset, size) || (this.interrupts.msixEnabled && matchesField(MSIX_REGISTERS, offset, size));
  }

  private bad(value: number): number {
    this.badAccesses++;
    return value;
  }
}
