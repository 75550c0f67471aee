/** Legacy virtio-PCI BAR0 register offsets (virtio 1.2 §4.1.4.8; bhyve virtio.c vi_pci_read). */
export const LEGACY_HOST_FEATURES = 0; // 4, RO
export const LEGACY_GUEST_FEATURES = 4; // 4, RW
export const LEGACY_QUEUE_PFN = 8; // 4, RW
export const LEGACY_QUEUE_NUM = 12; // 2, RO
export const LEGACY_QUEUE_SEL = 14; // 2, RW
export const LEGACY_QUEUE_NOTIFY = 16; // 2, RW
export const LEGACY_STATUS = 18; // 1, RW
export const LEGACY_ISR = 19; // 1, read-to-clear
export const LEGACY_MSI_CONFIG_VECTOR = 20; // 2, RW, only with MSI-X enabled
export const LEGACY_MSI_QUEUE_VECTOR = 22; // 2, RW, only with MSI-X enabled
/** Device config starts here without MSI-X, and 4 bytes later with it (VIRTIO_PCI_CONFIG_OFF). */
export const LEGACY_CONFIG_OFFSET = 20;
export const LEGACY_CONFIG_OFFSET_MSIX = 24;
/** Legacy rings: page-frame addressing and 4096-byte alignment of the used ring (§2.7.2 legacy). */
export const LEGACY_PFN_SHIFT = 12;
export const LEGACY_VRING_ALIGN = 4096;
