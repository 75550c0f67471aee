/** Every error code, with the virtio 1.2 clause a guest broke to cause it. */
export const VIRTIO_ERROR_CODES = [
  // guest memory
  'ERR_ADDRESS', // a guest-physical range is outside every region, leaves its region, or wraps
  // queue configuration (virtio 1.2 §2.7)
  'ERR_QUEUE_SIZE', // not a power of two, zero, above 32768 or above the device maximum (§2.7)
  'ERR_RING_ALIGNMENT', // desc 16, avail 2, used 4 bytes (§2.7 table "Virtqueue Part Alignment")
  'ERR_RING_ADDRESS', // a ring is not inside guest memory
  // the available ring (§2.7.6.1, §2.7.13)
  'ERR_AVAIL_IDX', // avail->idx moved by more than the queue size
  // descriptor chains (§2.7.5)
  'ERR_DESC_INDEX', // a head or `next` index beyond the table
  'ERR_DESC_ADDRESS', // a buffer outside guest memory
  'ERR_DESC_LOOP', // more hops than the table has entries: a loop (§2.7.5, §2.7.5.2)
  'ERR_DESC_ORDER', // a device-readable descriptor after a device-writable one (§2.7.4.2)
  'ERR_DESC_DIRECTION', // the device needed readable (or writable) buffers only and got the other
  'ERR_CHAIN_TOO_LONG', // more segments than the device accepts per chain
  'ERR_CHAIN_TOO_SHORT', // fewer bytes than the device needs (e.g. no room for a header)
  // indirect descriptors (§2.7.5.3)
  'ERR_INDIRECT_NOT_NEGOTIATED', // VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC
  'ERR_INDIRECT_NESTED', // an indirect table entry is itself INDIRECT
  'ERR_INDIRECT_WITH_NEXT', // INDIRECT together with NEXT
  'ERR_INDIRECT_LENGTH', // table length zero or not a multiple of 16
  'ERR_INDIRECT_ADDRESS', // the table is not inside guest memory
  // device status and features (§2.1, §2.2, §3.1)
  'ERR_FEATURES', // the driver accepted features the device did not offer, or wrote them late
  'ERR_STATUS', // a status write that the status machine does not allow
  // saved state
  'ERR_STATE', // a saved queue state that is malformed or does not fit the queue
] as const;

/**
 * Stable error codes: match on `code`, never on the message. Every code that a guest can cause
 * is listed in {@link VIRTIO_ERROR_CODES} with the virtio 1.2 clause the guest broke.
 */
export type VirtioErrorCode = (typeof VIRTIO_ERROR_CODES)[number];

/** True when `code` is one of {@link VIRTIO_ERROR_CODES}. */
export function isVirtioErrorCode(code: unknown): code is VirtioErrorCode {
  return typeof code === 'string' && (VIRTIO_ERROR_CODES as readonly string[]).includes(code);
}

export class VirtioError extends Error {
  readonly code: VirtioErrorCode;

  constructor(code: VirtioErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VirtioError';
    this.code = code;
  }
}
