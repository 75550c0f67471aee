import { MTU_DEFAULT, MTU_MAX, MTU_MIN } from '@netbe/core';
import {
  NET_CONFIG_MAC,
  NET_CONFIG_MAX_VQ_PAIRS,
  NET_CONFIG_MTU,
  NET_CONFIG_SIZE,
  NET_CONFIG_STATUS,
  VIRTIO_NET_S_LINK_UP,
} from './constants';

/** The plain-JSON form of the config space, for snapshots. */
export interface NetConfigState {
  mac: number[];
  status: number;
  maxVirtqueuePairs: number;
  mtu: number;
  generation: number;
}

/**
 * struct virtio_net_config (virtio 1.2 §5.1.4) as 12 little-endian bytes: mac, status,
 * max_virtqueue_pairs, mtu. Reads of any width and offset inside the 12 bytes are served from the
 * byte image; outside it they read as zero. Writes reach only the MAC, and only while
 * {@link macWritable} (the legacy interface, §5.1.4.3); every other write is ignored (§5.1.4.2:
 * the driver MUST NOT write the other fields). `generation` counts changes (the modern
 * transport's config_generation, §4.1.4.3).
 */
export class NetConfigSpace {
  readonly bytes = new Uint8Array(NET_CONFIG_SIZE);
  private readonly view = new DataView(this.bytes.buffer);
  /** Incremented whenever a field changes (config_generation). */
  generation = 0;
  /** True while the driver may write the MAC: legacy interface, no VERSION_1. */
  macWritable = true;

  constructor(mac: Uint8Array, mtu: number = MTU_DEFAULT) {
    if (mac.length !== 6) throw new RangeError(`a MAC has 6 bytes, got ${mac.length}`);
    if (!Number.isInteger(mtu) || mtu < MTU_MIN || mtu > MTU_MAX) throw new RangeError(`mtu ${mtu} is outside ${MTU_MIN}..${MTU_MAX}`);
    this.bytes.set(mac, NET_CONFIG_MAC);
    this.view.setUint16(NET_CONFIG_STATUS, VIRTIO_NET_S_LINK_UP, true);
    this.view.setUint16(NET_CONFIG_MAX_VQ_PAIRS, 1, true);
    this.view.setUint16(NET_CONFIG_MTU, mtu, true);
  }

  get size(): number {
    return NET_CONFIG_SIZE;
  }

  get mac(): Uint8Array {
    return this.bytes.slice(NET_CONFIG_MAC, NET_CONFIG_MAC + 6);
  }

  get mtu(): number {
    return this.view.getUint16(NET_CONFIG_MTU, true);
  }

  get status(): number {
    return this.view.getUint16(NET_CONFIG_STATUS, true);
  }

  get linkUp(): boolean {
    return (this.status & VIRTIO_NET_S_LINK_UP) !== 0;
  }

  /** Sets or clears VIRTIO_NET_S_LINK_UP. Returns true when the status changed. */
  setLinkUp(up: boolean): boolean {
    const old = this.status;
    const status = up ? old | VIRTIO_NET_S_LINK_UP : old & ~VIRTIO_NET_S_LINK_UP;
    if (status === old) return false;
    this.view.setUint16(NET_CONFIG_STATUS, status, true);
    this.generation = (this.generation + 1) >>> 0;
    return true;
  }

  /** Sets the MAC from the device side (management). Returns true when it changed. */
  setMac(mac: Uint8Array): boolean {
    if (mac.length !== 6) throw new RangeError(`a MAC has 6 bytes, got ${mac.length}`);
    let same = true;
    for (let i = 0; i < 6; i++) if (this.bytes[NET_CONFIG_MAC + i] !== mac[i]) same = false;
    if (same) return false;
    this.bytes.set(mac, NET_CONFIG_MAC);
    this.generation = (this.generation + 1) >>> 0;
    return true;
  }

  /** Copies config bytes [offset, offset+out.length) into `out`; bytes past the end read as 0. */
  read(offset: number, out: Uint8Array): void {
    for (let i = 0; i < out.length; i++) {
      const at = offset + i;
      out[i] = at >= 0 && at < NET_CONFIG_SIZE ? this.bytes[at]! : 0;
    }
  }

  /** A little-endian read of 1, 2 or 4 bytes (register-style access). */
  readValue(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) {
      const at = offset + i;
      value = value * 256 + (at >= 0 && at < NET_CONFIG_SIZE ? this.bytes[at]! : 0);
    }
    return value >>> 0;
  }

  /**
   * A driver write. Only the bytes that fall inside the MAC are applied, and only while the MAC is
   * writable; the rest is ignored. Returns the number of bytes applied.
   */
  write(offset: number, data: Uint8Array): number {
    if (!this.macWritable) return 0;
    let applied = 0;
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      if (at >= NET_CONFIG_MAC && at < NET_CONFIG_MAC + 6) {
        if (this.bytes[at] !== data[i]) {
          this.bytes[at] = data[i]!;
          applied++;
        }
      }
    }
    if (applied > 0) this.generation = (this.generation + 1) >>> 0;
    return applied;
  }

  /** A little-endian write of 1, 2 or 4 bytes (register-style access). */
  writeValue(offset: number, size: number, value: number): number {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (value >>> (8 * i)) & 0xff;
    return this.write(offset, data);
  }

  toJSON(): NetConfigState {
    return { mac: Array.from(this.bytes.subarray(0, 6)), status: this.status, maxVirtqueuePairs: 1, mtu: this.mtu, generation: this.generation };
  }

  /** Restores a snapshot taken by {@link toJSON}; throws RangeError for a malformed one. */
  restore(state: NetConfigState): void {
    if (!Array.isArray(state.mac) || state.mac.length !== 6 || !state.mac.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) throw new RangeError('config.mac must be 6 bytes');
    if (!Number.isInteger(state.status) || state.status < 0 || state.status > 0xffff) throw new RangeError('config.status must be a u16');
    if (!Number.isInteger(state.mtu) || state.mtu < MTU_MIN || state.mtu > MTU_MAX) throw new RangeError(`config.mtu must be ${MTU_MIN}..${MTU_MAX}`);
    if (!Number.isInteger(state.generation) || state.generation < 0) throw new RangeError('config.generation must be a non-negative integer');
    this.bytes.set(state.mac, NET_CONFIG_MAC);
    this.view.setUint16(NET_CONFIG_STATUS, state.status, true);
    this.view.setUint16(NET_CONFIG_MTU, state.mtu, true);
    this.generation = state.generation >>> 0;
  }
}
