/** virtio_pci_cap cfg_type values (virtio 1.2 §4.1.4). */
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
/** PCI capability ID of a vendor-specific capability. */
export const PCI_CAP_ID_VNDR = 0x09;
/** Where each structure sits in the BAR (4 KiB apart, as QEMU lays out its modern BAR). */
export const MODERN_COMMON_OFFSET = 0x0000;
export const MODERN_ISR_OFFSET = 0x1000;
export const MODERN_DEVICE_OFFSET = 0x2000;
export const MODERN_NOTIFY_OFFSET = 0x3000;
export const MODERN_BAR_SIZE = 0x4000;
/** queue_notify_off × this = the queue's notify address offset (§4.1.4.4). */
export const MODERN_NOTIFY_OFF_MULTIPLIER = 4;
