/**
 * Encoding and checked decoding of vhost-user message payloads (QEMU
 * docs/interop/vhost-user.rst, "Message types"). Every decoder checks the payload size exactly and
 * the number of file descriptors, and rejects values it cannot represent: a hostile front-end gets
 * a {@link VhostUserError} `ERR_PROTOCOL` naming the request and the fault, never a crash.
 */
import { VhostUserError } from './errors';
import { FLAG_VERSION, HEADER_SIZE, MAX_CONFIG_SIZE, MAX_MEM_REGIONS, requestName, VRING_IDX_MASK, VRING_NOFD_MASK } from './protocol';

/** One message as read from the socket: the header fields, the payload and the fds it carried. */
export interface VhostUserMessage {
  request: number;
  flags: number;
  payload: Uint8Array;
  fds: number[];
}

/** {u32 index, u32 num}: SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE. */
export interface VringState {
  index: number;
  num: number;
}

/** SET_VRING_ADDR: front-end virtual (user) addresses of the three rings, and the log address. */
export interface VringAddr {
  index: number;
  flags: number;
  descUserAddr: number;
  usedUserAddr: number;
  availUserAddr: number;
  logGuestAddr: number;
}

/** One SET_MEM_TABLE region; the i-th fd of the message backs the i-th region. */
export interface MemoryRegionDesc {
  guestPhysAddr: number;
  size: number;
  userAddr: number;
  mmapOffset: number;
}

/** GET/SET_CONFIG: {u32 offset, u32 size, u32 flags, u8 payload[size]}. */
export interface ConfigPayload {
  offset: number;
  size: number;
  flags: number;
  bytes: Uint8Array;
}

/** SET_VRING_KICK/CALL/ERR: ring index and whether an fd came with it (bit 8 clear). */
export interface VringFdPayload {
  index: number;
  noFd: boolean;
}

const TWO_32 = 4294967296;

function fail(msg: VhostUserMessage, what: string): never {
  throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: ${what}`);
}

function view(msg: VhostUserMessage): DataView {
  return new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
}

/** Throws unless the payload is exactly `size` bytes. */
export function expectSize(msg: VhostUserMessage, size: number): void {
  if (msg.payload.length !== size) fail(msg, `payload is ${msg.payload.length} bytes, expected ${size}`);
}

/** Throws unless exactly `count` fds came with the message. */
export function expectFds(msg: VhostUserMessage, count: number): void {
  if (msg.fds.length !== count) fail(msg, `carried ${msg.fds.length} file descriptors, expected ${count}`);
}

/** A u64 at `at` as a number, or a protocol error when it is not below 2^53. */
function u64(msg: VhostUserMessage, v: DataView, at: number, field: string): number {
  const lo = v.getUint32(at, true);
  const hi = v.getUint32(at + 4, true);
  if (hi >= 0x200000) fail(msg, `${field} 0x${(BigInt(hi) * 0x100000000n + BigInt(lo)).toString(16)} is not below 2^53`);
  return hi * TWO_32 + lo;
}

export function decodeU64(msg: VhostUserMessage): bigint {
  expectSize(msg, 8);
  return view(msg).getBigUint64(0, true);
}

export function decodeVringState(msg: VhostUserMessage): VringState {
  expectSize(msg, 8);
  const v = view(msg);
  return { index: v.getUint32(0, true), num: v.getUint32(4, true) };
}

export function decodeVringAddr(msg: VhostUserMessage): VringAddr {
  expectSize(msg, 40);
  const v = view(msg);
  return {
    index: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    descUserAddr: u64(msg, v, 8, 'descriptor table address'),
    usedUserAddr: u64(msg, v, 16, 'used ring address'),
    availUserAddr: u64(msg, v, 24, 'avail ring address'),
    logGuestAddr: u64(msg, v, 32, 'log address'),
  };
}

export function decodeVringFd(msg: VhostUserMessage): VringFdPayload {
  expectSize(msg, 8);
  const v = view(msg);
  const lo = v.getUint32(0, true);
  const hi = v.getUint32(4, true);
  if (hi !== 0 || (lo & ~(VRING_IDX_MASK | VRING_NOFD_MASK)) !== 0) fail(msg, `payload 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} has bits other than the ring index and the no-fd flag`);
  const noFd = (lo & VRING_NOFD_MASK) !== 0;
  expectFds(msg, noFd ? 0 : 1);
  return { index: lo & VRING_IDX_MASK, noFd };
}

/** One region description at `at` (four u64s), checked: non-zero size, no range past 2^53. */
function decodeRegion(msg: VhostUserMessage, v: DataView, at: number, i: number): MemoryRegionDesc {
  const r: MemoryRegionDesc = {
    guestPhysAddr: u64(msg, v, at, `region ${i} guest address`),
    size: u64(msg, v, at + 8, `region ${i} size`),
    userAddr: u64(msg, v, at + 16, `region ${i} user address`),
    mmapOffset: u64(msg, v, at + 24, `region ${i} mmap offset`),
  };
  if (r.size === 0) fail(msg, `region ${i} has size 0`);
  for (const [start, name] of [[r.guestPhysAddr, 'guest'], [r.userAddr, 'user'], [r.mmapOffset, 'mmap offset']] as const) {
    if (!Number.isSafeInteger(start + r.size)) fail(msg, `region ${i} ${name} range 0x${start.toString(16)}+0x${r.size.toString(16)} ends beyond 2^53`);
  }
  return r;
}

/** Throws unless no two regions overlap, neither in guest-physical nor in front-end user space. */
export function checkNoOverlap(msg: VhostUserMessage, regions: readonly MemoryRegionDesc[]): void {
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i]!;
      const b = regions[j]!;
      if (a.guestPhysAddr < b.guestPhysAddr + b.size && b.guestPhysAddr < a.guestPhysAddr + a.size) fail(msg, `regions ${i} and ${j} overlap in guest-physical space`);
      if (a.userAddr < b.userAddr + b.size && b.userAddr < a.userAddr + a.size) fail(msg, `regions ${i} and ${j} overlap in the front-end's address space`);
    }
  }
}

/**
 * SET_MEM_TABLE: {u32 nregions, u32 padding, region[nregions]} with one fd per region. Checks
 * counts, sizes (non-zero), that no range wraps 2^53, and that no two regions overlap, neither in
 * guest-physical nor in front-end user address space.
 */
export function decodeMemTable(msg: VhostUserMessage): MemoryRegionDesc[] {
  if (msg.payload.length < 8) fail(msg, `payload is ${msg.payload.length} bytes, too short for the region count`);
  const v = view(msg);
  const n = v.getUint32(0, true);
  if (n === 0 || n > MAX_MEM_REGIONS) fail(msg, `${n} regions (1..${MAX_MEM_REGIONS} allowed)`);
  expectSize(msg, 8 + 32 * n);
  expectFds(msg, n);
  const regions: MemoryRegionDesc[] = [];
  for (let i = 0; i < n; i++) regions.push(decodeRegion(msg, v, 8 + 32 * i, i));
  checkNoOverlap(msg, regions);
  return regions;
}

/**
 * ADD_MEM_REG / REM_MEM_REG: {u64 padding, region} ("A single memory region description").
 * ADD carries the region's fd; REM may carry one, which is closed.
 */
export function decodeMemRegion(msg: VhostUserMessage): MemoryRegionDesc {
  expectSize(msg, 40);
  return decodeRegion(msg, view(msg), 8, 0);
}

/** GET_CONFIG / SET_CONFIG payload; `size` must match the bytes that follow the 12-byte head. */
export function decodeConfig(msg: VhostUserMessage): ConfigPayload {
  if (msg.payload.length < 12) fail(msg, `payload is ${msg.payload.length} bytes, too short for the config header`);
  const v = view(msg);
  const offset = v.getUint32(0, true);
  const size = v.getUint32(4, true);
  const flags = v.getUint32(8, true);
  if (size > MAX_CONFIG_SIZE || offset > MAX_CONFIG_SIZE || offset + size > MAX_CONFIG_SIZE) fail(msg, `config range ${offset}+${size} exceeds ${MAX_CONFIG_SIZE} bytes`);
  expectSize(msg, 12 + size);
  return { offset, size, flags, bytes: msg.payload.subarray(12, 12 + size) };
}

// ---- encoders (replies from the back-end; requests from the test front-end) ----

/** Header + payload as one buffer. `flags` defaults to version 1. */
export function encodeMessage(request: number, payload: Uint8Array = new Uint8Array(0), flags = FLAG_VERSION): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, request, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, payload.length, true);
  out.set(payload, HEADER_SIZE);
  return out;
}

export function encodeU64(value: bigint | number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(value)), true);
  return out;
}

export function encodeVringState(s: VringState): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, s.index >>> 0, true);
  v.setUint32(4, s.num >>> 0, true);
  return out;
}

export function encodeVringAddr(a: VringAddr): Uint8Array {
  const out = new Uint8Array(40);
  const v = new DataView(out.buffer);
  v.setUint32(0, a.index >>> 0, true);
  v.setUint32(4, a.flags >>> 0, true);
  v.setBigUint64(8, BigInt(a.descUserAddr), true);
  v.setBigUint64(16, BigInt(a.usedUserAddr), true);
  v.setBigUint64(24, BigInt(a.availUserAddr), true);
  v.setBigUint64(32, BigInt(a.logGuestAddr), true);
  return out;
}

export function encodeMemTable(regions: readonly MemoryRegionDesc[]): Uint8Array {
  const out = new Uint8Array(8 + 32 * regions.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, regions.length, true);
  regions.forEach((r, i) => {
    const at = 8 + 32 * i;
    v.setBigUint64(at, BigInt(r.guestPhysAddr), true);
    v.setBigUint64(at + 8, BigInt(r.size), true);
    v.setBigUint64(at + 16, BigInt(r.userAddr), true);
    v.setBigUint64(at + 24, BigInt(r.mmapOffset), true);
  });
  return out;
}

export function encodeMemRegion(r: MemoryRegionDesc): Uint8Array {
  const out = new Uint8Array(40);
  out.set(encodeMemTable([r]).subarray(8), 8);
  return out;
}

export function encodeConfig(c: { offset: number; flags?: number; bytes: Uint8Array }): Uint8Array {
  const out = new Uint8Array(12 + c.bytes.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, c.offset >>> 0, true);
  v.setUint32(4, c.bytes.length, true);
  v.setUint32(8, (c.flags ?? 0) >>> 0, true);
  out.set(c.bytes, 12);
  return out;
}

/** SET_VRING_KICK/CALL/ERR payload. */
export function encodeVringFd(index: number, noFd: boolean): Uint8Array {
  return encodeU64((index & VRING_IDX_MASK) | (noFd ? VRING_NOFD_MASK : 0));
}
