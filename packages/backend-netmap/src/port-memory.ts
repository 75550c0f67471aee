import { NetbeError } from '@netbe/core';
import {
  IF_HOST_RX_RINGS,
  IF_HOST_TX_RINGS,
  IF_RING_OFS,
  IF_RX_RINGS,
  IF_TX_RINGS,
  NR_REG_ALL_NIC,
  NR_REG_NIC_SW,
  NR_REG_ONE_NIC,
  NR_REG_ONE_SW,
  NR_REG_SW,
  RING_BUF_OFS,
  RING_BUF_SIZE,
  RING_CUR,
  RING_DIR,
  RING_DIR_RX,
  RING_DIR_TX,
  RING_HEAD,
  RING_NUM_SLOTS,
  RING_SLOTS,
  RING_TAIL,
  SLOT_SIZE,
} from '@netbe/netmap-bindings';

/** The platform's byte order: the kernel writes the shared region in it. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Rings hold at most this many slots (netmap caps them far lower; this bounds a hostile value). */
const MAX_SLOTS = 1 << 20;
/** netmap buffers are at most 64 KiB; slot.len is 16 bits. */
const MAX_BUF_SIZE = 1 << 16;
/** More rings than any NIC has (NETMAP_RING_MASK is 0xfff). */
const MAX_RINGS = 4096;

/**
 * One ring of the port, located and checked once at open (every later access still checks the
 * values the kernel side may change: head, tail, buffer indexes, lengths). Word indexes address
 * the region as 32-bit words; every offset here is 8-byte aligned.
 */
export interface RingView {
  readonly dir: 'tx' | 'rx';
  /** Index among the port's rings of that direction (NIC rings first, then host rings). */
  readonly index: number;
  /** Byte offset of struct netmap_ring in the region. */
  readonly base: number;
  readonly numSlots: number;
  readonly bufSize: number;
  /** Byte offset of buffer 0 (ring + buf_ofs); may be negative, then low indexes are invalid. */
  readonly bufBase: number;
  /** Valid buffer indexes are [minBuf, maxBuf): exactly those whose whole buffer lies in the region. */
  readonly minBuf: number;
  readonly maxBuf: number;
  readonly headWord: number;
  readonly curWord: number;
  readonly tailWord: number;
  /** Word index of slot 0 (slot i starts at slotWord + 4 i). */
  readonly slotWord: number;
}

/** The port's mapped region as typed arrays (native byte order), and its bound rings. */
export class PortMemory {
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly tx: readonly RingView[];
  readonly rx: readonly RingView[];

  private constructor(memory: ArrayBuffer, tx: RingView[], rx: RingView[]) {
    this.u8 = new Uint8Array(memory);
    this.u16 = new Uint16Array(memory, 0, memory.byteLength >>> 1);
    this.u32 = new Uint32Array(memory, 0, memory.byteLength >>> 2);
    this.tx = tx;
    this.rx = rx;
  }

  /**
   * Locates the rings a registration bound (mode/ringId as in NETMAP_REQ_REGISTER) through the
   * netmap_if at `nifpOffset`, checking that every ring, its slots and at least one buffer lie
   * inside `memory`. A region smaller than the rings claim, a misaligned or absurd field: a
   * NetbeError (ERR_IO) saying which ring and why. Never reads outside the region.
   */
  static open(name: string, memory: ArrayBuffer, nifpOffset: number, mode: number, ringId: number): PortMemory {
    const size = memory.byteLength;
    const fail = (reason: string): never => {
      throw new NetbeError('ERR_IO', `${name}: bad netmap region (${size} bytes): ${reason}`);
    };
    const dv = new DataView(memory);
    const i64 = (at: number): number => {
      const lo = dv.getUint32(at + (LITTLE_ENDIAN ? 0 : 4), LITTLE_ENDIAN);
      const hi = dv.getInt32(at + (LITTLE_ENDIAN ? 4 : 0), LITTLE_ENDIAN);
      if (hi > 0x1fffff || hi < -0x200000) return Number.NaN; // beyond 2^53: not an offset
      return hi * 0x1_0000_0000 + lo;
    };
    if (!Number.isSafeInteger(nifpOffset) || nifpOffset < 0 || nifpOffset % 8 !== 0 || nifpOffset + IF_RING_OFS > size) {
      fail(`netmap_if offset ${nifpOffset} is outside the region or misaligned`);
    }
    const u32 = (at: number): number => dv.getUint32(at, LITTLE_ENDIAN);
    const txRings = u32(nifpOffset + IF_TX_RINGS);
    const rxRings = u32(nifpOffset + IF_RX_RINGS);
    const hostTx = u32(nifpOffset + IF_HOST_TX_RINGS);
    const hostRx = u32(nifpOffset + IF_HOST_RX_RINGS);
    for (const [what, n] of [['tx', txRings], ['rx', rxRings], ['host tx', hostTx], ['host rx', hostRx]] as const) {
      if (n > MAX_RINGS) fail(`netmap_if claims ${n} ${what} rings`);
    }
    const totalRings = txRings + hostTx + rxRings + hostRx;
    if (nifpOffset + IF_RING_OFS + 8 * totalRings > size) fail(`netmap_if ring table (${totalRings} rings) runs past the end`);

    const pick = (nic: number, host: number): number[] => {
      const out: number[] = [];
      const add = (from: number, count: number): void => {
        for (let i = 0; i < count; i++) out.push(from + i);
      };
      switch (mode) {
        case NR_REG_ALL_NIC:
          add(0, nic);
          break;
        case NR_REG_ONE_NIC:
          if (ringId >= nic) fail(`ring ${ringId} asked for, the port has ${nic}`);
          add(ringId, 1);
          break;
        case NR_REG_SW:
          add(nic, host);
          break;
        case NR_REG_ONE_SW:
          if (ringId >= host) fail(`host ring ${ringId} asked for, the port has ${host}`);
          add(nic + ringId, 1);
          break;
        case NR_REG_NIC_SW:
          add(0, nic + host);
          break;
        default:
          fail(`unknown registration mode ${mode}`);
      }
      if (out.length === 0) fail('no rings bound');
      return out;
    };

    const ring = (dir: 'tx' | 'rx', index: number): RingView => {
      const table = nifpOffset + IF_RING_OFS + 8 * (dir === 'tx' ? index : txRings + hostTx + index);
      const rel = i64(table);
      const base = nifpOffset + rel;
      const where = `${dir} ring ${index}`;
      if (!Number.isSafeInteger(base) || base < 0 || base % 8 !== 0 || base + RING_SLOTS > size) {
        fail(`${where} at offset ${base} lies outside the region or is misaligned`);
      }
      const numSlots = u32(base + RING_NUM_SLOTS);
      const bufSize = u32(base + RING_BUF_SIZE);
      const ringDir = dv.getUint16(base + RING_DIR, LITTLE_ENDIAN);
      if (ringDir !== (dir === 'tx' ? RING_DIR_TX : RING_DIR_RX)) {
        fail(`${where} says it is a ${ringDir === RING_DIR_TX ? 'tx' : ringDir === RING_DIR_RX ? 'rx' : `dir-${ringDir}`} ring`);
      }
      if (numSlots < 2 || numSlots > MAX_SLOTS) fail(`${where} claims ${numSlots} slots`);
      if (base + RING_SLOTS + SLOT_SIZE * numSlots > size) {
        fail(`${where} claims ${numSlots} slots, which end at ${base + RING_SLOTS + SLOT_SIZE * numSlots}, past the region`);
      }
      if (bufSize < 1 || bufSize > MAX_BUF_SIZE) fail(`${where} claims a buffer size of ${bufSize}`);
      const bufBase = base + i64(base + RING_BUF_OFS);
      if (!Number.isSafeInteger(bufBase)) fail(`${where} has an absurd buffer offset`);
      const minBuf = bufBase >= 0 ? 0 : Math.ceil(-bufBase / bufSize);
      const maxBuf = Math.max(0, Math.floor((size - bufBase) / bufSize));
      return {
        dir,
        index,
        base,
        numSlots,
        bufSize,
        bufBase,
        minBuf,
        maxBuf,
        headWord: (base + RING_HEAD) >>> 2,
        curWord: (base + RING_CUR) >>> 2,
        tailWord: (base + RING_TAIL) >>> 2,
        slotWord: (base + RING_SLOTS) >>> 2,
      };
    };
    // Every ring and its slots first, then the buffers (the more telling message comes first).
    const tx = pick(txRings, hostTx).map((i) => ring('tx', i));
    const rx = pick(rxRings, hostRx).map((i) => ring('rx', i));
    for (const r of [...tx, ...rx]) if (r.maxBuf <= r.minBuf) fail(`${r.dir} ring ${r.index}: no buffer fits in the region`);
    return new PortMemory(memory, tx, rx);
  }
}

/** Ring arithmetic (netmap_user.h nm_ring_next / nm_ring_space). */
export const ringNext = (i: number, n: number): number => (i + 1 === n ? 0 : i + 1);
export const ringSpace = (head: number, tail: number, n: number): number => (tail >= head ? tail - head : tail + n - head);
