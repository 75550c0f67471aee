/**
 * vhost-user protocol constants (QEMU docs/interop/vhost-user.rst). Every message starts with a
 * 12-byte little-endian header {u32 request, u32 flags, u32 size}; `size` bytes of payload
 * follow, and file descriptors travel as SCM_RIGHTS ancillary data of the same sendmsg.
 */

/** Front-end -> back-end requests ("Front-end message types"). */
export const Req = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  GET_INFLIGHT_FD: 31,
  SET_INFLIGHT_FD: 32,
  RESET_DEVICE: 34,
  VRING_KICK: 35,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
} as const;

const NAMES = new Map<number, string>(Object.entries(Req).map(([k, v]) => [v, k]));

/** "SET_MEM_TABLE (5)", or "request 99" for an unknown one (for log lines). */
export function requestName(request: number): string {
  const n = NAMES.get(request);
  return n ? `${n} (${request})` : `unknown request ${request}`;
}

export const HEADER_SIZE = 12;
/** Header flags: protocol version in bits 0-1, REPLY bit 2, NEED_REPLY bit 3. */
export const FLAG_VERSION = 0x1;
export const FLAG_VERSION_MASK = 0x3;
export const FLAG_REPLY = 0x4;
export const FLAG_NEED_REPLY = 0x8;

/** Largest payload we accept. The largest legal one is GET/SET_CONFIG (12 + 256 bytes) or a
 * full memory table (8 + 8 * 32); anything bigger is hostile. */
export const MAX_PAYLOAD = 4096;
/** SET_MEM_TABLE carries at most this many regions (VHOST_MEMORY_BASELINE_NREGIONS). */
export const MAX_MEM_REGIONS = 8;
/** Regions a front-end may add one by one (GET_MAX_MEM_SLOTS, CONFIGURE_MEM_SLOTS). */
export const MAX_MEM_SLOTS = 32;
/** At most this many fds on one message: one per region. */
export const MAX_FDS = MAX_MEM_REGIONS;
/** Largest config space a GET/SET_CONFIG may address (VHOST_USER_MAX_CONFIG_SIZE). */
export const MAX_CONFIG_SIZE = 256;

/** Virtio feature bit 30: the back-end speaks protocol features (VHOST_USER_F_PROTOCOL_FEATURES). */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;
/** Virtio feature bit 26 (VHOST_F_LOG_ALL): dirty-page logging for live migration. Not offered. */
export const VHOST_F_LOG_ALL = 26;

/** Protocol feature bit numbers ("Protocol features"). */
export const ProtocolFeature = {
  MQ: 0,
  LOG_SHMFD: 1,
  RARP: 2,
  REPLY_ACK: 3,
  NET_MTU: 4,
  BACKEND_REQ: 5,
  CROSS_ENDIAN: 6,
  CRYPTO_SESSION: 7,
  PAGEFAULT: 8,
  CONFIG: 9,
  BACKEND_SEND_FD: 10,
  HOST_NOTIFIER: 11,
  INFLIGHT_SHMFD: 12,
  RESET_DEVICE: 13,
  INBAND_NOTIFICATIONS: 14,
  CONFIGURE_MEM_SLOTS: 15,
  STATUS: 16,
} as const;

export const protocolMask = (bit: number): bigint => 1n << BigInt(bit);

/** The protocol features this back-end implements. */
export const SUPPORTED_PROTOCOL_FEATURES =
  protocolMask(ProtocolFeature.MQ) |
  protocolMask(ProtocolFeature.RARP) |
  protocolMask(ProtocolFeature.REPLY_ACK) |
  protocolMask(ProtocolFeature.NET_MTU) |
  protocolMask(ProtocolFeature.CONFIG) |
  protocolMask(ProtocolFeature.RESET_DEVICE) |
  protocolMask(ProtocolFeature.CONFIGURE_MEM_SLOTS);

/** SET_VRING_KICK/CALL/ERR payload: ring index in bits 0-7, bit 8 = no fd (polling). */
export const VRING_IDX_MASK = 0xff;
export const VRING_NOFD_MASK = 0x100;

/** SET_VRING_ADDR flags: bit 0 = VHOST_VRING_F_LOG (log used-ring writes). */
export const VRING_F_LOG = 0x1;
