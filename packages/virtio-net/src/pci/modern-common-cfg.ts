import type { DeviceStatus } from '@netbe/virtio';
import type { VirtioNetDevice } from '../device';
import type { PciInterrupts } from './interrupts';
import { matchesField, type RegisterField } from './register-field';
import {
  COMMON_DEVICE_FEATURE_SELECT,
  COMMON_DEVICE_FEATURE,
  COMMON_DRIVER_FEATURE_SELECT,
  COMMON_DRIVER_FEATURE,
  COMMON_CONFIG_MSIX_VECTOR,
  COMMON_NUM_QUEUES,
  COMMON_DEVICE_STATUS,
  COMMON_CONFIG_GENERATION,
  COMMON_QUEUE_SELECT,
  COMMON_QUEUE_SIZE,
  COMMON_QUEUE_MSIX_VECTOR,
  COMMON_QUEUE_ENABLE,
  COMMON_QUEUE_NOTIFY_OFF,
  COMMON_QUEUE_DESC,
  COMMON_QUEUE_DRIVER,
  COMMON_QUEUE_DEVICE,
} from './common-cfg-offsets';

const FIELDS: readonly RegisterField[] = [
  { offset: COMMON_DEVICE_FEATURE_SELECT, size: 4 },
  { offset: COMMON_DEVICE_FEATURE, size: 4 },
  { offset: COMMON_DRIVER_FEATURE_SELECT, size: 4 },
  { offset: COMMON_DRIVER_FEATURE, size: 4 },
  { offset: COMMON_CONFIG_MSIX_VECTOR, size: 2 },
  { offset: COMMON_NUM_QUEUES, size: 2 },
  { offset: COMMON_DEVICE_STATUS, size: 1 },
  { offset: COMMON_CONFIG_GENERATION, size: 1 },
  { offset: COMMON_QUEUE_SELECT, size: 2 },
  { offset: COMMON_QUEUE_SIZE, size: 2 },
  { offset: COMMON_QUEUE_MSIX_VECTOR, size: 2 },
  { offset: COMMON_QUEUE_ENABLE, size: 2 },
  { offset: COMMON_QUEUE_NOTIFY_OFF, size: 2 },
];
const ADDRESS_FIELDS = [COMMON_QUEUE_DESC, COMMON_QUEUE_DRIVER, COMMON_QUEUE_DEVICE];

const TWO_32 = 4294967296;

export interface CommonConfigState {
  deviceFeatureSelect: number;
  driverFeatureSelect: number;
  queueSelect: number;
}

/**
 * The virtio 1.x common configuration structure (virtio 1.2 §4.1.4.3) of a virtio-net device:
 * 64-bit feature negotiation through 32-bit windows, device_status with the FEATURES_OK check,
 * per-queue size, addresses, MSI-X vector, enable and notify offset.
 *
 * Accesses must be naturally aligned and match a field (the 64-bit addresses also as two 32-bit
 * halves); anything else reads as zero and is ignored on write (`badAccesses`). After the driver
 * writes 0 to device_status, device_status keeps reading its old value until the device reset
 * has completed (a transmit pass in progress finishes first), as §4.1.4.3.2 lets the driver wait.
 */
export class ModernCommonConfig {
  badAccesses = 0;
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  private queueSelect = 0;
  private resetPending = false;
  private statusBeforeReset = 0;

  constructor(
    private readonly device: VirtioNetDevice,
    private readonly status: DeviceStatus,
    private readonly interrupts: PciInterrupts,
  ) {}

  /**
   * Called by the transport when the driver writes 0. With a non-zero `previousStatus` the reset
   * is still in progress: device_status reads that value until `done` settles.
   */
  beginReset(previousStatus: number, done: Promise<void>): void {
    this.deviceFeatureSelect = this.driverFeatureSelect = this.queueSelect = 0;
    if (previousStatus === 0) return;
    this.resetPending = true;
    this.statusBeforeReset = previousStatus;
    void done.then(
      () => {
        this.resetPending = false;
      },
      () => {
        this.resetPending = false;
      },
    );
  }

  read(offset: number, size: number): number {
    const addr = this.addressField(offset, size);
    if (addr >= 0) {
      const value = this.queueAddress(addr);
      if (size === 8) return value;
      return offset === addr ? value % TWO_32 : Math.floor(value / TWO_32) % TWO_32;
    }
    if (!this.isField(offset, size)) {
      this.badAccesses++;
      return 0;
    }
    const sel = this.queueSelect;
    const valid = sel < this.device.queueCount;
    switch (offset) {
      case COMMON_DEVICE_FEATURE_SELECT:
        return this.deviceFeatureSelect;
      case COMMON_DEVICE_FEATURE:
        return this.status.readDeviceFeatures(this.deviceFeatureSelect);
      case COMMON_DRIVER_FEATURE_SELECT:
        return this.driverFeatureSelect;
      case COMMON_DRIVER_FEATURE:
        return this.status.readDriverFeatures(this.driverFeatureSelect);
      case COMMON_CONFIG_MSIX_VECTOR:
        return this.interrupts.configVector;
      case COMMON_NUM_QUEUES:
        return this.device.queueCount;
      case COMMON_DEVICE_STATUS:
        return this.resetPending ? this.statusBeforeReset : this.status.status;
      case COMMON_CONFIG_GENERATION:
        return this.device.config.generation & 0xff;
      case COMMON_QUEUE_SELECT:
        return sel;
      case COMMON_QUEUE_SIZE:
        // §4.1.4.3.1: 0 for a queue that does not exist.
        return valid ? this.device.queue(sel).size : 0;
      case COMMON_QUEUE_MSIX_VECTOR:
        return valid ? this.interrupts.queueVectors[sel]! : 0xffff;
      case COMMON_QUEUE_ENABLE:
        return valid && this.device.queueStarted(sel) ? 1 : 0;
      case COMMON_QUEUE_NOTIFY_OFF:
        return valid ? sel : 0;
      default:
        return 0;
    }
  }

  write(offset: number, size: number, value: number): void {
    const addr = this.addressField(offset, size);
    if (addr >= 0) {
      this.writeAddress(addr, offset, size, value);
      return;
    }
    if (!this.isField(offset, size)) {
      this.badAccesses++;
      return;
    }
    value = size === 4 ? value >>> 0 : value & ((1 << (8 * size)) - 1);
    const sel = this.queueSelect;
    const valid = sel < this.device.queueCount;
    switch (offset) {
      case COMMON_DEVICE_FEATURE_SELECT:
        this.deviceFeatureSelect = value;
        return;
      case COMMON_DRIVER_FEATURE_SELECT:
        this.driverFeatureSelect = value;
        return;
      case COMMON_DRIVER_FEATURE:
        this.status.writeDriverFeaturesWord(this.driverFeatureSelect, value);
        return;
      case COMMON_CONFIG_MSIX_VECTOR:
        this.interrupts.configVector = this.interrupts.acceptVector(value);
        return;
      case COMMON_DEVICE_STATUS:
        if (this.resetPending) return; // §4.1.4.3.2: the driver waits for 0 before anything else
        this.status.writeStatus(value);
        return;
      case COMMON_QUEUE_SELECT:
        this.queueSelect = value;
        return;
      case COMMON_QUEUE_SIZE:
        if (valid && !this.device.queueStarted(sel)) this.device.queue(sel).size = value;
        return;
      case COMMON_QUEUE_MSIX_VECTOR:
        if (valid) this.interrupts.queueVectors[sel] = this.interrupts.acceptVector(value);
        return;
      case COMMON_QUEUE_ENABLE:
        // §4.1.4.3.2: the driver MUST NOT write 0 (queue_reset is for that); 1 enables once.
        if (valid && value === 1 && !this.device.queueStarted(sel)) this.device.startQueue(sel);
        return;
      default:
        this.badAccesses++; // read-only fields
    }
  }

  saveState(): CommonConfigState {
    return { deviceFeatureSelect: this.deviceFeatureSelect, driverFeatureSelect: this.driverFeatureSelect, queueSelect: this.queueSelect };
  }

  restoreState(state: CommonConfigState): void {
    this.deviceFeatureSelect = state.deviceFeatureSelect >>> 0;
    this.driverFeatureSelect = state.driverFeatureSelect >>> 0;
    this.queueSelect = state.queueSelect & 0xffff;
    this.resetPending = false;
  }

  private isField(offset: number, size: number): boolean {
    return matchesField(FIELDS, offset, size);
  }

  /** The 64-bit field an access hits (whole, or one 32-bit half), or -1. */
  private addressField(offset: number, size: number): number {
    for (const a of ADDRESS_FIELDS) {
      if (offset === a && (size === 8 || size === 4)) return a;
      if (offset === a + 4 && size === 4) return a;
    }
    return -1;
  }

  private queueAddress(field: number): number {
    if (this.queueSelect >= this.device.queueCount) return 0;
    const q = this.device.queue(this.queueSelect);
    return field === COMMON_QUEUE_DESC ? q.descAddr : field === COMMON_QUEUE_DRIVER ? q.availAddr : q.usedAddr;
  }

  private writeAddress(field: number, offset: number, size: number, value: number): void {
    const sel = this.queueSelect;
    if (sel >= this.device.queueCount || this.device.queueStarted(sel)) return;
    const q = this.device.queue(sel);
    const old = this.queueAddress(field);
    let next: number;
    if (size === 8) next = Number.isSafeInteger(value) && value >= 0 ? value : old;
    else if (offset === field) next = Math.floor(old / TWO_32) * TWO_32 + (value >>> 0);
    else next = (value >>> 0) * TWO_32 + (old % TWO_32);
    // An address at or above 2^53 cannot be guest memory; keep it unusable rather than wrong.
    if (!Number.isSafeInteger(next)) next = Number.MAX_SAFE_INTEGER - 15;
    if (field === COMMON_QUEUE_DESC) q.descAddr = next;
    else if (field === COMMON_QUEUE_DRIVER) q.availAddr = next;
    else q.usedAddr = next;
  }
}
