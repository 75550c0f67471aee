/**
 * Why a packet was rejected. Stable strings: a stack counts drops by these, tests match on them.
 */
export type WireErrorReason =
  | 'truncated' // fewer bytes than the header (or a length field) says
  | 'bad-version' // IP version is not 4
  | 'bad-header-length' // IHL / data offset too small or larger than the packet
  | 'bad-total-length' // IPv4 total length / UDP length inconsistent with the bytes
  | 'bad-checksum'
  | 'bad-option' // an option that lies about its length or is malformed
  | 'bad-field' // a field with a value the protocol forbids (ARP hlen, BOOTP cookie…)
  | 'bad-name' // DNS name: label too long, pointer loop, name over 255 bytes
  | 'too-big'; // does not fit the buffer given to emit

/** A malformed packet (or a buffer too small to emit into). Match on `reason`. */
export class WireError extends Error {
  readonly code = 'ERR_MALFORMED';
  constructor(
    readonly reason: WireErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'WireError';
  }
}

/** Throws `truncated` unless `[offset, offset+len)` lies inside `bytes`. */
export function need(bytes: Uint8Array, offset: number, len: number, what: string): void {
  if (offset < 0 || len < 0 || offset + len > bytes.length) {
    throw new WireError('truncated', `${what}: need ${len} bytes at ${offset}, have ${bytes.length - offset}`);
  }
}
