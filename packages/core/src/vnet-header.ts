/**
 * The virtio-net header that precedes every frame between driver and device (virtio 1.2 §5.1.6):
 *
 *   u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size; le16 csum_start; le16 csum_offset;
 *   le16 num_buffers   (only in the 12-byte form: VERSION_1 or MRG_RXBUF)
 *
 * Little-endian as VERSION_1 requires (and as legacy x86 guests use natively).
 */
export const VNET_HDR_LEN_LEGACY = 10;
export const VNET_HDR_LEN = 12;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_F_RSC_INFO = 4;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  /** Only meaningful in the 12-byte form. */
  numBuffers: number;
}

/** A header of all zeros: no offload, no checksum work, one buffer. */
export function emptyVnetHeader(): VnetHeader {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0, numBuffers: 0 };
}

/** True for the header lengths netbe accepts between device and backend (bhyve: 0, 10, 12). */
export function isValidVnetHdrLen(len: number): boolean {
  return len === 0 || len === VNET_HDR_LEN_LEGACY || len === VNET_HDR_LEN;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
};

/**
 * Decodes a header of `len` bytes (10 or 12) at `offset` into `out` (reused, no allocation).
 * Returns false when fewer than `len` bytes are there.
 */
export function decodeVnetHeader(bytes: Uint8Array, offset: number, len: number, out: VnetHeader): boolean {
  if (len !== VNET_HDR_LEN && len !== VNET_HDR_LEN_LEGACY) return false;
  if (offset < 0 || offset + len > bytes.length) return false;
  out.flags = bytes[offset]!;
  out.gsoType = bytes[offset + 1]!;
  out.hdrLen = u16(bytes, offset + 2);
  out.gsoSize = u16(bytes, offset + 4);
  out.csumStart = u16(bytes, offset + 6);
  out.csumOffset = u16(bytes, offset + 8);
  out.numBuffers = len === VNET_HDR_LEN ? u16(bytes, offset + 10) : 0;
  return true;
}

/** Encodes `hdr` as `len` bytes (10 or 12) at `offset`. Returns false when it does not fit. */
export function encodeVnetHeader(hdr: VnetHeader, bytes: Uint8Array, offset: number, len: number): boolean {
  if (len !== VNET_HDR_LEN && len !== VNET_HDR_LEN_LEGACY) return false;
  if (offset < 0 || offset + len > bytes.length) return false;
  bytes[offset] = hdr.flags & 0xff;
  bytes[offset + 1] = hdr.gsoType & 0xff;
  put16(bytes, offset + 2, hdr.hdrLen);
  put16(bytes, offset + 4, hdr.gsoSize);
  put16(bytes, offset + 6, hdr.csumStart);
  put16(bytes, offset + 8, hdr.csumOffset);
  if (len === VNET_HDR_LEN) put16(bytes, offset + 10, hdr.numBuffers);
  return true;
}
