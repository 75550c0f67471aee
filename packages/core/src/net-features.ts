/**
 * virtio-net feature bits (virtio 1.2 §5.1.3) as bigint masks, and the generic virtio bits the
 * net device offers. Backends report their offload subset of these through getCap().
 */
const bit = (n: number): bigint => 1n << BigInt(n);

export const VIRTIO_NET_F_CSUM = bit(0); // device handles packets with partial checksum (guest TX)
export const VIRTIO_NET_F_GUEST_CSUM = bit(1); // driver handles packets with partial checksum (guest RX)
export const VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = bit(2);
export const VIRTIO_NET_F_MTU = bit(3);
export const VIRTIO_NET_F_MAC = bit(5);
export const VIRTIO_NET_F_GUEST_TSO4 = bit(7);
export const VIRTIO_NET_F_GUEST_TSO6 = bit(8);
export const VIRTIO_NET_F_GUEST_ECN = bit(9);
export const VIRTIO_NET_F_GUEST_UFO = bit(10);
export const VIRTIO_NET_F_HOST_TSO4 = bit(11);
export const VIRTIO_NET_F_HOST_TSO6 = bit(12);
export const VIRTIO_NET_F_HOST_ECN = bit(13);
export const VIRTIO_NET_F_HOST_UFO = bit(14);
export const VIRTIO_NET_F_MRG_RXBUF = bit(15);
export const VIRTIO_NET_F_STATUS = bit(16);
export const VIRTIO_NET_F_CTRL_VQ = bit(17);
export const VIRTIO_NET_F_CTRL_RX = bit(18);
export const VIRTIO_NET_F_CTRL_VLAN = bit(19);
export const VIRTIO_NET_F_GUEST_ANNOUNCE = bit(21);
export const VIRTIO_NET_F_MQ = bit(22);
export const VIRTIO_NET_F_CTRL_MAC_ADDR = bit(23);

/** The offload bits a backend may report: checksum and segmentation offloads both ways. */
export const NET_OFFLOAD_FEATURES =
  VIRTIO_NET_F_CSUM |
  VIRTIO_NET_F_GUEST_CSUM |
  VIRTIO_NET_F_GUEST_TSO4 |
  VIRTIO_NET_F_GUEST_TSO6 |
  VIRTIO_NET_F_GUEST_ECN |
  VIRTIO_NET_F_GUEST_UFO |
  VIRTIO_NET_F_HOST_TSO4 |
  VIRTIO_NET_F_HOST_TSO6 |
  VIRTIO_NET_F_HOST_ECN |
  VIRTIO_NET_F_HOST_UFO;

const NAMES: Array<[bigint, string]> = [
  [VIRTIO_NET_F_CSUM, 'CSUM'],
  [VIRTIO_NET_F_GUEST_CSUM, 'GUEST_CSUM'],
  [VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, 'CTRL_GUEST_OFFLOADS'],
  [VIRTIO_NET_F_MTU, 'MTU'],
  [VIRTIO_NET_F_MAC, 'MAC'],
  [VIRTIO_NET_F_GUEST_TSO4, 'GUEST_TSO4'],
  [VIRTIO_NET_F_GUEST_TSO6, 'GUEST_TSO6'],
  [VIRTIO_NET_F_GUEST_ECN, 'GUEST_ECN'],
  [VIRTIO_NET_F_GUEST_UFO, 'GUEST_UFO'],
  [VIRTIO_NET_F_HOST_TSO4, 'HOST_TSO4'],
  [VIRTIO_NET_F_HOST_TSO6, 'HOST_TSO6'],
  [VIRTIO_NET_F_HOST_ECN, 'HOST_ECN'],
  [VIRTIO_NET_F_HOST_UFO, 'HOST_UFO'],
  [VIRTIO_NET_F_MRG_RXBUF, 'MRG_RXBUF'],
  [VIRTIO_NET_F_STATUS, 'STATUS'],
  [VIRTIO_NET_F_CTRL_VQ, 'CTRL_VQ'],
  [VIRTIO_NET_F_CTRL_RX, 'CTRL_RX'],
  [VIRTIO_NET_F_CTRL_VLAN, 'CTRL_VLAN'],
  [VIRTIO_NET_F_GUEST_ANNOUNCE, 'GUEST_ANNOUNCE'],
  [VIRTIO_NET_F_MQ, 'MQ'],
  [VIRTIO_NET_F_CTRL_MAC_ADDR, 'CTRL_MAC_ADDR'],
];

/** Names of the virtio-net bits set in `features`, for logs and `netbe backends`. */
export function netFeatureNames(features: bigint): string[] {
  return NAMES.filter(([mask]) => (features & mask) !== 0n).map(([, name]) => name);
}
