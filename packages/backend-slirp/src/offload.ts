/**
 * virtio-net header work for the slirp backend (virtio 1.2 §5.1.6.2 and §5.1.6.4): checking the
 * header of a guest frame (NEEDS_CSUM offsets, GSO type), and the header for a frame toward the
 * guest (DATA_VALID; TCP GSO when the segment is larger than the MTU allows).
 * Pure functions over bytes: no Node API.
 */
import {
  VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, type VnetHeader,
} from '@netbe/core';
import { checksumAdd, foldChecksum } from '@netbe/wire';

const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_TCP = 6;

/** Why a guest frame's header was refused (the backend counts it as a txDrop). */
export type OffloadRefusal = 'csum-out-of-range' | 'gso-unsupported';

/**
 * Checks what the guest's header asks of the device for `frame` (the frame without header):
 * GSO_NONE or GSO_TCPV4 (a TSO segment is consumed whole by the stack, never split), and for
 * NEEDS_CSUM a checksum field inside the IP datagram (virtio 1.2 §5.1.6.2). The partial checksum
 * itself is neither completed nor verified: the stack reads the payload, not the checksum.
 * Returns undefined when the frame may go in, or why it must be dropped.
 */
export function checkGuestOffload(hdr: VnetHeader, frame: Uint8Array): OffloadRefusal | undefined {
  const gso = hdr.gsoType & 0x7f;
  if (gso !== VIRTIO_NET_HDR_GSO_NONE && gso !== VIRTIO_NET_HDR_GSO_TCPV4) return 'gso-unsupported';
  if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) === 0) return undefined;
  let end = frame.length;
  if (frame.length >= ETH_HLEN + 20 && ((frame[12]! << 8) | frame[13]!) === ETHERTYPE_IPV4) {
    const total = (frame[ETH_HLEN + 2]! << 8) | frame[ETH_HLEN + 3]!;
    if (ETH_HLEN + total <= frame.length) end = ETH_HLEN + total; // ignore Ethernet padding
  }
  if (hdr.csumStart < ETH_HLEN || hdr.csumStart + hdr.csumOffset + 2 > end) return 'csum-out-of-range';
  return undefined;
}

/**
 * Fills `out` for a frame the stack built (its checksums are complete): DATA_VALID when the guest
 * negotiated GUEST_CSUM; when it also negotiated GUEST_TSO4 and the frame is a TCP/IPv4 segment
 * whose IP datagram exceeds `mtu`, GSO_TCPV4 with `gso_size` = the MSS that `mtu` allows, so the
 * guest takes one large segment and its stack sees MTU-sized ones (virtio 1.2 §5.1.6.4.1).
 */
export function guestRxHeader(frame: Uint8Array, mtu: number, guestCsum: boolean, guestTso4: boolean, out: VnetHeader): void {
  out.flags = guestCsum ? VIRTIO_NET_HDR_F_DATA_VALID : 0;
  out.gsoType = VIRTIO_NET_HDR_GSO_NONE;
  out.hdrLen = 0;
  out.gsoSize = 0;
  out.csumStart = 0;
  out.csumOffset = 0;
  out.numBuffers = 0;
  if (!guestCsum || !guestTso4 || frame.length < ETH_HLEN + 40 || ((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_IPV4) return;
  const ip = ETH_HLEN;
  const ihl = (frame[ip]! & 0x0f) * 4;
  const total = (frame[ip + 2]! << 8) | frame[ip + 3]!;
  if (total <= mtu || frame[ip + 9] !== IPPROTO_TCP || ihl < 20 || ip + total > frame.length) return;
  const tcpLen = (frame[ip + ihl + 12]! >>> 4) * 4;
  const headers = ip + ihl + tcpLen;
  if (tcpLen < 20 || headers >= ip + total) return;
  out.gsoType = VIRTIO_NET_HDR_GSO_TCPV4;
  out.hdrLen = headers;
  out.gsoSize = mtu - ihl - tcpLen;
}

/**
 * Fills `out` for a TCP/IPv4 frame the stack left with a partial checksum (its TCP checksum
 * field holds the pseudo-header sum): NEEDS_CSUM from the TCP header on (virtio 1.2 §5.1.6.4),
 * and GSO_TCPV4 cut at `gsoSize` payload bytes when `gsoSize` > 0 (the guest negotiated TSO4).
 */
export function partialTcpRxHeader(frame: Uint8Array, gsoSize: number, out: VnetHeader): void {
  const tcpOff = ETH_HLEN + (frame[ETH_HLEN]! & 0x0f) * 4;
  out.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  out.csumStart = tcpOff;
  out.csumOffset = 16;
  out.numBuffers = 0;
  if (gsoSize > 0) {
    out.gsoType = VIRTIO_NET_HDR_GSO_TCPV4;
    out.hdrLen = tcpOff + (frame[tcpOff + 12]! >>> 4) * 4;
    out.gsoSize = gsoSize;
  } else {
    out.gsoType = VIRTIO_NET_HDR_GSO_NONE;
    out.hdrLen = 0;
    out.gsoSize = 0;
  }
}

/**
 * Finishes, in place, the TCP checksum of a frame the stack left partial, for a guest that no
 * longer takes partial checksums (its offloads changed while the frame waited).
 */
export function completeTcpChecksum(frame: Uint8Array): void {
  const tcpOff = ETH_HLEN + (frame[ETH_HLEN]! & 0x0f) * 4;
  const end = ETH_HLEN + ((frame[ETH_HLEN + 2]! << 8) | frame[ETH_HLEN + 3]!);
  const sum = foldChecksum(checksumAdd(frame, tcpOff, end));
  frame[tcpOff + 16] = sum >>> 8;
  frame[tcpOff + 17] = sum & 0xff;
}
