/** struct virtio_pci_common_cfg field offsets (virtio 1.2 §4.1.4.3). */
export const COMMON_DEVICE_FEATURE_SELECT = 0x00; // le32 RW
export const COMMON_DEVICE_FEATURE = 0x04; // le32 RO
export const COMMON_DRIVER_FEATURE_SELECT = 0x08; // le32 RW
export const COMMON_DRIVER_FEATURE = 0x0c; // le32 RW
export const COMMON_CONFIG_MSIX_VECTOR = 0x10; // le16 RW
export const COMMON_NUM_QUEUES = 0x12; // le16 RO
export const COMMON_DEVICE_STATUS = 0x14; // u8 RW
export const COMMON_CONFIG_GENERATION = 0x15; // u8 RO
export const COMMON_QUEUE_SELECT = 0x16; // le16 RW
export const COMMON_QUEUE_SIZE = 0x18; // le16 RW
export const COMMON_QUEUE_MSIX_VECTOR = 0x1a; // le16 RW
export const COMMON_QUEUE_ENABLE = 0x1c; // le16 RW
export const COMMON_QUEUE_NOTIFY_OFF = 0x1e; // le16 RO
export const COMMON_QUEUE_DESC = 0x20; // le64 RW
export const COMMON_QUEUE_DRIVER = 0x28; // le64 RW
export const COMMON_QUEUE_DEVICE = 0x30; // le64 RW
/** Bytes of the structure this model implements (up to queue_device). */
export const COMMON_CFG_SIZE = 0x38;
