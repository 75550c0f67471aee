import { DeviceStatus, STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_FEATURES_OK, STATUS_NEEDS_RESET } from '@netbe/virtio';

/**
 * Brings a fresh {@link DeviceStatus} to a saved status byte and driver features by replaying the
 * driver's steps (reset, ACKNOWLEDGE|DRIVER, features, the saved status), between `begin` and
 * `end` so the transport can silence the callbacks: the device state comes from its own snapshot.
 */
export function replayStatus(status: DeviceStatus, saved: number, driverFeatures: bigint, begin: () => void, end: () => void): void {
  begin();
  try {
    status.writeStatus(0);
    const byte = saved & 0xff;
    if (byte === 0) return;
    const early = byte & (STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    if (early !== 0) status.writeStatus(early);
    status.writeDriverFeatures(driverFeatures);
    if (!status.legacy && (byte & STATUS_FEATURES_OK) !== 0) status.writeStatus(early | STATUS_FEATURES_OK);
    status.writeStatus(byte & ~STATUS_NEEDS_RESET);
    if ((byte & STATUS_NEEDS_RESET) !== 0) status.needsReset();
  } finally {
    end();
  }
}
