/** Descriptor flags (virtio 1.2 §2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;

/** avail->flags: the driver asks for no used buffer notifications (§2.7.6, §2.7.7). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used->flags: the device asks for no available buffer notifications (kicks) (§2.7.8, §2.7.10). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Largest split queue (§2.7: "Queue Size ... maximum is 32768"). */
export const VIRTQ_MAX_SIZE = 32768;

/** Sizes of ring elements (§2.7.5, §2.7.6, §2.7.8). */
export const DESC_SIZE = 16;
export const USED_ELEM_SIZE = 8;

/** Alignment of the three parts (§2.7, "Virtqueue Part Alignment"). */
export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;

/** Bytes of the descriptor table for `size` entries. */
export const descTableBytes = (size: number): number => size * DESC_SIZE;
/** Bytes of the available ring: flags, idx, ring[size], used_event (§2.7.6). */
export const availRingBytes = (size: number): number => 6 + 2 * size;
/** Bytes of the used ring: flags, idx, ring[size] of {id, len}, avail_event (§2.7.8). */
export const usedRingBytes = (size: number): number => 6 + USED_ELEM_SIZE * size;

/** Device status bits (§2.1). */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

/** Transport feature bit numbers (§6). Device-type bits (virtio-net) live in their packages. */
export const VIRTIO_F_NOTIFY_ON_EMPTY = 24; // legacy only (§6.3)
export const VIRTIO_F_ANY_LAYOUT = 27; // legacy only (§6.3)
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_IN_ORDER = 35;
export const VIRTIO_F_ORDER_PLATFORM = 36;
export const VIRTIO_F_SR_IOV = 37;
export const VIRTIO_F_NOTIFICATION_DATA = 38;
export const VIRTIO_F_NOTIF_CONFIG_DATA = 39;
export const VIRTIO_F_RING_RESET = 40;

/** `1n << BigInt(bit)`: the mask of one feature bit. */
export const featureMask = (bit: number): bigint => 1n << BigInt(bit);

/**
 * vring_need_event (§2.7.7.2, §2.7.10.1): true when `event` lies in the half-open window
 * (old, new] of a 16-bit index that moved from `oldIdx` to `newIdx`.
 */
export function vringNeedEvent(event: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
