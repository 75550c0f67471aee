import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  STATUS_NEEDS_RESET,
  VIRTIO_F_VERSION_1,
} from './constants';
import { VirtioError, type VirtioErrorCode } from './errors';

const U32 = 0xffffffffn;
const U64 = 0xffffffffffffffffn;

export interface DeviceStatusOptions {
  /** The features the device offers (device feature bits), 64 bits. */
  deviceFeatures: bigint;
  /**
   * Legacy interface (virtio 1.2 §6.3 / bhyve): no FEATURES_OK step; every driver-features
   * write takes effect at once (`negotiated = written & offered`). Default false.
   */
  legacy?: boolean;
  /**
   * Device-specific check of the driver's choice at FEATURES_OK (feature dependencies, §5.1.3.1
   * for net). Return false to refuse: FEATURES_OK then stays clear (§3.1.1 step 6).
   */
  validateFeatures?: (driverFeatures: bigint) => boolean;
  /** The driver wrote 0: reset the device (queues, config). */
  onReset?: () => void;
  /** Features are final (FEATURES_OK accepted, or each legacy write). */
  onFeatures?: (negotiated: bigint) => void;
  /** DRIVER_OK was set: the device may start using its queues. */
  onDriverOk?: () => void;
  /** NEEDS_RESET was set while DRIVER_OK: send a configuration change notification (§2.1.2). */
  onNeedsReset?: (error: VirtioError | null) => void;
}

/** The status machine as plain JSON (features as hex strings: JSON has no bigint). */
export interface DeviceStatusState {
  status: number;
  driverFeatures: string;
  negotiated: string;
}

/**
 * The device status field and 64-bit feature negotiation (virtio 1.2 §2.1, §2.2, §3.1).
 *
 * Driver writes go through {@link writeStatus} and {@link writeDriverFeatures} (or the 32-bit
 * windowed forms a PCI register model uses). A write the status machine does not allow (clearing
 * a bit without reset, skipping a step, features after FEATURES_OK) is ignored and recorded in
 * `lastError`; it never throws. The device signals its own fatal errors with {@link needsReset}.
 */
export class DeviceStatus {
  readonly deviceFeatures: bigint;
  readonly legacy: boolean;
  /** The status byte as the driver reads it. */
  status = 0;
  /** The features the driver wrote (not yet final before FEATURES_OK). */
  driverFeatures = 0n;
  /** The final features: valid after FEATURES_OK (or, legacy, after each write). */
  negotiated = 0n;
  /** The last refused driver write or device error, for diagnostics. */
  lastError: VirtioError | null = null;
  private readonly options: DeviceStatusOptions;
  /** negotiated as two numbers, for cheap tests on hot paths. */
  private negotiatedLo = 0;
  private negotiatedHi = 0;

  constructor(options: DeviceStatusOptions) {
    this.options = options;
    this.deviceFeatures = BigInt.asUintN(64, options.deviceFeatures);
    this.legacy = options.legacy ?? false;
  }

  /** True when feature `bit` was negotiated. Cheap: no bigint. */
  has(bit: number): boolean {
    return bit < 32 ? ((this.negotiatedLo >>> bit) & 1) === 1 : ((this.negotiatedHi >>> (bit - 32)) & 1) === 1;
  }

  /** True when feature `bit` is offered by the device. */
  offers(bit: number): boolean {
    return ((this.deviceFeatures >> BigInt(bit)) & 1n) === 1n;
  }

  /** DRIVER_OK and neither NEEDS_RESET nor FAILED: queues may be processed. */
  get live(): boolean {
    return (this.status & (STATUS_DRIVER_OK | STATUS_NEEDS_RESET | STATUS_FAILED)) === STATUS_DRIVER_OK;
  }

  /** 32 bits of the device features: word `select` (0 = bits 0..31, 1 = bits 32..63; others 0). */
  readDeviceFeatures(select: number): number {
    if (select !== 0 && select !== 1) return 0;
    return Number((this.deviceFeatures >> BigInt(32 * select)) & U32);
  }

  /** 32 bits of the driver features: word `select`. */
  readDriverFeatures(select: number): number {
    if (select !== 0 && select !== 1) return 0;
    return Number((this.driverFeatures >> BigInt(32 * select)) & U32);
  }

  /** Writes word `select` of the driver features (a 32-bit register window). */
  writeDriverFeaturesWord(select: number, value: number): void {
    if (select !== 0 && select !== 1) return;
    const shift = BigInt(32 * select);
    const word = BigInt(value >>> 0) << shift;
    this.writeDriverFeatures((this.driverFeatures & ~(U32 << shift) & U64) | word);
  }

  /** The driver accepts `features` (all 64 bits at once, as vhost-user SET_FEATURES does). */
  writeDriverFeatures(features: bigint): void {
    if ((this.status & STATUS_FEATURES_OK) !== 0 || (this.status & STATUS_DRIVER_OK) !== 0) {
      this.refuse('ERR_FEATURES', 'driver features written after FEATURES_OK or DRIVER_OK (virtio 1.2 §3.1.1)');
      return;
    }
    this.driverFeatures = BigInt.asUintN(64, features);
    if (this.legacy) this.setNegotiated(this.driverFeatures & this.deviceFeatures);
  }

  /** A driver write to the status field (virtio 1.2 §2.1, §3.1.1). */
  writeStatus(value: number): void {
    value &= 0xff;
    if (value === 0) {
      this.reset();
      this.options.onReset?.();
      return;
    }
    const old = this.status;
    // NEEDS_RESET is the device's bit: the driver writes back what it read, or not.
    const mine = old & STATUS_NEEDS_RESET;
    const wanted = (value & ~STATUS_NEEDS_RESET) | mine;
    if ((old & ~STATUS_NEEDS_RESET & ~wanted) !== 0) {
      this.refuse('ERR_STATUS', `status write 0x${value.toString(16)} clears bits of 0x${old.toString(16)} without a reset (§2.1.1)`);
      return;
    }
    const added = wanted & ~old;
    if ((added & STATUS_FAILED) !== 0) {
      this.status = wanted;
      return;
    }
    if ((added & (STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK)) !== 0 && (wanted & STATUS_ACKNOWLEDGE) === 0) {
      this.refuse('ERR_STATUS', 'DRIVER, FEATURES_OK or DRIVER_OK without ACKNOWLEDGE (§3.1.1)');
      return;
    }
    if ((added & (STATUS_FEATURES_OK | STATUS_DRIVER_OK)) !== 0 && (wanted & STATUS_DRIVER) === 0) {
      this.refuse('ERR_STATUS', 'FEATURES_OK or DRIVER_OK without DRIVER (§3.1.1)');
      return;
    }
    if ((added & STATUS_FEATURES_OK) !== 0) {
      if (this.legacy) {
        this.refuse('ERR_STATUS', 'FEATURES_OK on a legacy interface');
        return;
      }
      const reason = this.checkFeatures();
      if (reason !== null) {
        // §3.1.1 step 6: the device leaves FEATURES_OK clear; the driver reads it back and gives up.
        this.refuse('ERR_FEATURES', reason);
        this.status = wanted & ~(STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        return;
      }
      this.setNegotiated(this.driverFeatures);
    }
    if ((added & STATUS_DRIVER_OK) !== 0 && !this.legacy && (wanted & STATUS_FEATURES_OK) === 0) {
      this.refuse('ERR_STATUS', 'DRIVER_OK without FEATURES_OK (§3.1.1)');
      return;
    }
    this.status = wanted;
    if ((added & STATUS_DRIVER_OK) !== 0) this.options.onDriverOk?.();
  }

  /**
   * The device hit an error that needs a reset (a broken queue...): sets NEEDS_RESET and,
   * when DRIVER_OK is set, asks for a configuration change notification (§2.1.2).
   */
  needsReset(error: VirtioError | null = null): void {
    if (error !== null) this.lastError = error;
    if ((this.status & STATUS_NEEDS_RESET) !== 0) return;
    this.status |= STATUS_NEEDS_RESET;
    if ((this.status & STATUS_DRIVER_OK) !== 0) this.options.onNeedsReset?.(error);
  }

  /** The state as plain JSON (snapshot, migration). */
  saveState(): DeviceStatusState {
    return { status: this.status, driverFeatures: `0x${this.driverFeatures.toString(16)}`, negotiated: `0x${this.negotiated.toString(16)}` };
  }

  /**
   * Restores a {@link saveState} result without calling any callback (the device restores its
   * own state). Throws `ERR_STATE` when it is malformed or negotiates features this device does
   * not offer.
   */
  restoreState(state: DeviceStatusState): void {
    const s = state as unknown as Record<string, unknown>;
    if (typeof s !== 'object' || s === null) throw new VirtioError('ERR_STATE', 'device status state is not an object');
    if (!Number.isInteger(s.status) || (s.status as number) < 0 || (s.status as number) > 0xff) throw new VirtioError('ERR_STATE', 'status is not a byte');
    const parse = (v: unknown, name: string): bigint => {
      if (typeof v !== 'string' || !/^0x[0-9a-f]{1,16}$/i.test(v)) throw new VirtioError('ERR_STATE', `${name} is not a 64-bit hex string`);
      return BigInt(v);
    };
    const driverFeatures = parse(s.driverFeatures, 'driverFeatures');
    const negotiated = parse(s.negotiated, 'negotiated');
    if ((negotiated & ~this.deviceFeatures) !== 0n) throw new VirtioError('ERR_STATE', `negotiated features 0x${negotiated.toString(16)} were not offered by this device`);
    this.status = s.status as number;
    this.driverFeatures = driverFeatures;
    this.lastError = null;
    this.negotiated = negotiated;
    this.negotiatedLo = Number(negotiated & U32);
    this.negotiatedHi = Number((negotiated >> 32n) & U32);
  }

  /** Back to the state after construction (does not call onReset). */
  reset(): void {
    this.status = 0;
    this.driverFeatures = 0n;
    this.lastError = null;
    this.setNegotiated(0n);
  }

  private checkFeatures(): string | null {
    const extra = this.driverFeatures & ~this.deviceFeatures & U64;
    if (extra !== 0n) return `driver accepted features the device did not offer: 0x${extra.toString(16)}`;
    if (((this.driverFeatures >> BigInt(VIRTIO_F_VERSION_1)) & 1n) === 0n) return 'VIRTIO_F_VERSION_1 not accepted by a modern driver (§6.1)';
    if (this.options.validateFeatures !== undefined && !this.options.validateFeatures(this.driverFeatures)) return 'the device refused this feature combination';
    return null;
  }

  private setNegotiated(features: bigint): void {
    this.negotiated = features;
    this.negotiatedLo = Number(features & U32);
    this.negotiatedHi = Number((features >> 32n) & U32);
    if (features !== 0n || this.status !== 0) this.options.onFeatures?.(features);
  }

  private refuse(code: VirtioErrorCode, message: string): void {
    this.lastError = new VirtioError(code, message);
  }
}
