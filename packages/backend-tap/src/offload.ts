import {
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_UFO,
} from '@netbe/core';
import { sys } from '@netbe/sys';

/**
 * What a tap opened with IFF_VNET_HDR carries. Guest TX (CSUM, HOST_*): the kernel takes
 * partial checksums and GSO frames written with a virtio-net header and finishes or segments
 * them itself (virtio_net_hdr_to_skb). Guest RX (GUEST_*): only what TUNSETOFFLOAD allows.
 */
export const TAP_VNET_CAPS =
  VIRTIO_NET_F_CSUM |
  VIRTIO_NET_F_HOST_TSO4 |
  VIRTIO_NET_F_HOST_TSO6 |
  VIRTIO_NET_F_HOST_ECN |
  VIRTIO_NET_F_HOST_UFO |
  VIRTIO_NET_F_GUEST_CSUM |
  VIRTIO_NET_F_GUEST_TSO4 |
  VIRTIO_NET_F_GUEST_TSO6 |
  VIRTIO_NET_F_GUEST_ECN |
  VIRTIO_NET_F_GUEST_UFO;

/**
 * TUNSETOFFLOAD flags for the guest-RX features the guest negotiated: the frames the kernel may
 * hand us with a partial checksum or unsegmented (as QEMU's tap_fd_set_offload). Segmentation
 * needs checksum offload in both virtio (§5.1.3.1) and the kernel (set_offload), so TSO/UFO
 * without GUEST_CSUM is not enabled.
 */
export function tunOffloadFlags(features: bigint): number {
  if ((features & VIRTIO_NET_F_GUEST_CSUM) === 0n) return 0;
  let flags = sys.TUN_F_CSUM;
  if (features & VIRTIO_NET_F_GUEST_TSO4) flags |= sys.TUN_F_TSO4;
  if (features & VIRTIO_NET_F_GUEST_TSO6) flags |= sys.TUN_F_TSO6;
  if (features & VIRTIO_NET_F_GUEST_ECN && features & (VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6)) flags |= sys.TUN_F_TSO_ECN;
  if (features & VIRTIO_NET_F_GUEST_UFO) flags |= sys.TUN_F_UFO;
  return flags;
}
