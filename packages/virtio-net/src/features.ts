import {
  NET_OFFLOAD_FEATURES,
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
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
  VNET_HDR_LEN,
  VNET_HDR_LEN_LEGACY,
} from '@netbe/core';
import {
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_F_VERSION_1,
  featureMask,
} from '@netbe/virtio';

export const F_NOTIFY_ON_EMPTY = featureMask(VIRTIO_F_NOTIFY_ON_EMPTY);
export const F_ANY_LAYOUT = featureMask(VIRTIO_F_ANY_LAYOUT);
export const F_INDIRECT_DESC = featureMask(VIRTIO_F_INDIRECT_DESC);
export const F_EVENT_IDX = featureMask(VIRTIO_F_EVENT_IDX);
export const F_VERSION_1 = featureMask(VIRTIO_F_VERSION_1);

/** What the device always offers, whatever the backend (MTU is added when one is configured). */
export const NET_BASE_FEATURES =
  VIRTIO_NET_F_MAC |
  VIRTIO_NET_F_STATUS |
  VIRTIO_NET_F_MRG_RXBUF |
  F_NOTIFY_ON_EMPTY |
  F_ANY_LAYOUT |
  F_INDIRECT_DESC |
  F_EVENT_IDX |
  F_VERSION_1;

/**
 * Offload bits and the bits each one needs (virtio 1.2 §5.1.3.1: "The device MUST NOT offer a
 * feature which requires another feature which was not offered"). ECN needs one of two TSO bits,
 * hence a list of alternatives.
 */
const OFFLOAD_DEPENDENCIES: ReadonlyArray<[bigint, readonly bigint[]]> = [
  [VIRTIO_NET_F_GUEST_TSO4, [VIRTIO_NET_F_GUEST_CSUM]],
  [VIRTIO_NET_F_GUEST_TSO6, [VIRTIO_NET_F_GUEST_CSUM]],
  [VIRTIO_NET_F_GUEST_UFO, [VIRTIO_NET_F_GUEST_CSUM]],
  [VIRTIO_NET_F_GUEST_ECN, [VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6]],
  [VIRTIO_NET_F_HOST_TSO4, [VIRTIO_NET_F_CSUM]],
  [VIRTIO_NET_F_HOST_TSO6, [VIRTIO_NET_F_CSUM]],
  [VIRTIO_NET_F_HOST_UFO, [VIRTIO_NET_F_CSUM]],
  [VIRTIO_NET_F_HOST_ECN, [VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6]],
];

/**
 * Removes every bit whose prerequisite is missing, repeatedly (GUEST_ECN falls when GUEST_CSUM
 * takes GUEST_TSO4 with it). Used for what we offer and to check what a driver accepts.
 */
export function closeOffloadDependencies(features: bigint): bigint {
  let out = features;
  for (let changed = true; changed; ) {
    changed = false;
    for (const [bitMask, needs] of OFFLOAD_DEPENDENCIES) {
      if ((out & bitMask) !== 0n && !needs.some((n) => (out & n) !== 0n)) {
        out &= ~bitMask;
        changed = true;
      }
    }
  }
  return out;
}

/**
 * The features the device offers for a backend whose getCap() is `backendCaps`: the base set,
 * MTU when configured, and the backend's offloads (only the offload bits, and only those whose
 * prerequisites it also reports). An offload the backend cannot carry is never offered.
 */
export function offeredFeatures(backendCaps: bigint, mtuConfigured: boolean): bigint {
  const offloads = closeOffloadDependencies(backendCaps & NET_OFFLOAD_FEATURES);
  return NET_BASE_FEATURES | (mtuConfigured ? VIRTIO_NET_F_MTU : 0n) | offloads;
}

/**
 * The virtio-net header length the driver uses (virtio 1.2 §5.1.6): 12 bytes (with num_buffers)
 * when VERSION_1 or MRG_RXBUF is negotiated, else the legacy 10.
 */
export function guestHeaderLength(negotiated: bigint): number {
  return (negotiated & (F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF)) !== 0n ? VNET_HDR_LEN : VNET_HDR_LEN_LEGACY;
}

/** Why a set of driver features is refused, or null when it is acceptable. */
export function featureProblem(offered: bigint, accepted: bigint): string | null {
  const extra = accepted & ~offered;
  if (extra !== 0n) return `the driver accepted features the device did not offer: 0x${extra.toString(16)}`;
  // virtio 1.2 §5.1.3.1: "The driver MUST NOT accept a feature which the device did not offer, and
  // MUST NOT accept a feature which requires another feature which was not accepted."
  const closed = closeOffloadDependencies(accepted);
  if (closed !== accepted) return `the driver accepted offloads without their prerequisites: 0x${(accepted & ~closed).toString(16)}`;
  return null;
}
