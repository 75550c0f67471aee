/** Queue indices (virtio 1.2 §5.1.2): receiveq1 = 0, transmitq1 = 1; controlq reserved (not offered). */
export const RX_QUEUE = 0;
export const TX_QUEUE = 1;
/** Number of queues the device exposes (bhyve: VTNET_MAXQ - 1). */
export const NET_QUEUE_COUNT = 2;

/** Default and largest ring size the device offers per queue (bhyve VTNET_RINGSZ). */
export const DEFAULT_QUEUE_SIZE = 1024;

/** Most segments one frame may use, on TX (one chain) and RX (all merged chains) (bhyve VTNET_MAXSEGS). */
export const MAX_FRAME_SEGMENTS = 256;

/** Largest Ethernet frame the device moves, without the virtio-net header (64 KiB, a GSO super-frame). */
export const MAX_FRAME_BYTES = 65536;

/** virtio_net_config.status bits (virtio 1.2 §5.1.4). */
export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_S_ANNOUNCE = 2;

/**
 * struct virtio_net_config (virtio 1.2 §5.1.4), the part this device exposes:
 * mac[6] @0, le16 status @6, le16 max_virtqueue_pairs @8, le16 mtu @10.
 */
export const NET_CONFIG_MAC = 0;
export const NET_CONFIG_STATUS = 6;
export const NET_CONFIG_MAX_VQ_PAIRS = 8;
export const NET_CONFIG_MTU = 10;
export const NET_CONFIG_SIZE = 12;

/** PCI identity (virtio 1.2 §4.1.2): transitional net device 0x1000, modern 0x1041, subsystem id 1. */
export const PCI_VENDOR_ID_VIRTIO = 0x1af4;
export const PCI_DEVICE_ID_NET_TRANSITIONAL = 0x1000;
export const PCI_DEVICE_ID_NET_MODERN = 0x1041;
export const PCI_SUBSYSTEM_ID_NET = 1;
export const PCI_CLASS_NETWORK_ETHERNET = 0x020000;
export const VIRTIO_ID_NET = 1;
