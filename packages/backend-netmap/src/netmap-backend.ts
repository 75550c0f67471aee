import {
  isValidVnetHdrLen,
  netFeatureNames,
  NetbeError,
  newBackendStats,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_UFO,
  type BackendListener,
  type BackendStats,
  type Iov,
  type NetBackend,
} from '@netbe/core';
import { errnoOf, NETMAP_MAX_FRAGS, NetmapUnavailableError, netmapSystem, type NetmapPort, type NetmapSystem } from '@netbe/netmap-bindings';
import { newNetmapCounters, type NetmapCounters } from './counters';
import { parseNetmapName } from './port-name';
import { PortMemory } from './port-memory';
import { RxRing } from './rx-ring';
import { scheduleSoon } from './schedule';
import { TxRing } from './tx-ring';

/**
 * The offloads bhyve advertises when the port takes a virtio-net header (net_backend_netmap.c
 * NETMAP_FEATURES, 0x5D83): checksum and TSO/UFO both ways, no ECN.
 */
export const NETMAP_FEATURES =
  VIRTIO_NET_F_CSUM |
  VIRTIO_NET_F_HOST_TSO4 |
  VIRTIO_NET_F_HOST_TSO6 |
  VIRTIO_NET_F_HOST_UFO |
  VIRTIO_NET_F_GUEST_CSUM |
  VIRTIO_NET_F_GUEST_TSO4 |
  VIRTIO_NET_F_GUEST_TSO6 |
  VIRTIO_NET_F_GUEST_UFO;

export interface NetmapBackendOptions {
  /**
   * `frame` (default, as bhyve): one NIOCTXSYNC per sent frame, so it is on the wire when send
   * returns. `batch`: frames accumulate in the TX ring and one NIOCTXSYNC follows the caller's
   * synchronous run of sends (a microtask later), or comes earlier when the ring fills.
   */
  txsync?: 'frame' | 'batch';
}

/** Turns what opening a port threw into the contract's typed error. */
function openError(name: string, e: unknown): NetbeError {
  if (e instanceof NetbeError) return e;
  if (e instanceof NetmapUnavailableError) return new NetbeError('ERR_UNAVAILABLE', e.message, { cause: e });
  const errno = errnoOf(e);
  const message = `${name}: ${(e as Error)?.message ?? String(e)}`;
  return new NetbeError('ERR_IO', message, errno === undefined ? { cause: e } : { cause: e, errno });
}

/**
 * A netmap or VALE port as a netbe backend (bhyve net_backend_netmap.c, without its pitfalls):
 * the ring logic runs here over the mapped region; the port (kernel or test double) only
 * registers, maps and syncs.
 *
 * - send gathers one frame into ceil(len / nr_buf_size) TX slots (NS_MOREFRAG on all but the
 *   last), at most NETMAP_MAX_FRAGS; no room after one txsync: a counted drop (bhyve claims
 *   success). One NIOCTXSYNC per frame, as bhyve.
 * - peekRecvLen walks the RX slots from head to the end of the first complete frame; a frame
 *   whose end has not arrived counts as none (bhyve returns the partial sum). An empty ring is
 *   rxsync'ed once before answering 0.
 * - Header length: the port carries the device's header (NETMAP_REQ_PORT_HDR_SET) when it can
 *   (VALE ports); getCap then reports {@link NETMAP_FEATURES}, else 0 and the device adapts.
 */
export class NetmapBackend implements NetBackend {
  readonly name: string;
  /** Drop and distrust counters beyond {@link stats}. */
  readonly netmap: NetmapCounters = newNetmapCounters();
  private readonly counters: BackendStats = newBackendStats();
  private readonly port: NetmapPort;
  private readonly tx: TxRing[];
  private readonly rx: RxRing[];
  private rxCursor = 0;
  /** Length of the frame the last peek found on rx[rxCursor] (0: look again). The slots stay ours
   * until released, so recv can take it without a second walk; take() re-checks every slot. */
  private peeked = 0;
  private hdrLen = 0;
  private portHdrLen = 0;
  private caps: bigint | undefined;
  private listener: BackendListener | undefined;
  private enabled = false;
  private closed = false;
  private cancelFire: (() => void) | undefined;
  /** txsync=batch: frames are in the TX ring but not yet handed to the kernel. */
  private txPending = false;
  private txFlushQueued = false;
  private readonly txBatch: boolean;

  private constructor(name: string, port: NetmapPort, memory: PortMemory, options: NetmapBackendOptions) {
    this.name = name;
    this.txBatch = options.txsync === 'batch';
    this.port = port;
    this.tx = memory.tx.map((v) => new TxRing(memory, v, this.netmap));
    this.rx = memory.rx.map((v) => new RxRing(memory, v, this.netmap));
  }

  /**
   * Opens `netmap:IFNAME[-N|*|^|^N]` or `valeX:PORT` on `system` (the kernel by default; a test
   * double in tests). Bad names are ConfigErrors; no /dev/netmap is ERR_UNAVAILABLE with
   * "netmap not available: /dev/netmap missing"; a bad region or a failed call is ERR_IO.
   */
  static open(name: string, system: NetmapSystem = netmapSystem, options: NetmapBackendOptions = {}): NetmapBackend {
    const parsed = parseNetmapName(name);
    let port: NetmapPort;
    try {
      port = system.openPort({ name: parsed.requestName, mode: parsed.mode, ringId: parsed.ringId });
    } catch (e) {
      throw openError(name, e);
    }
    try {
      const memory = PortMemory.open(name, port.memory, port.nifpOffset, parsed.mode, parsed.ringId);
      const backend = new NetmapBackend(name, port, memory, options);
      // A persistent VALE port may still carry the header length its last user set. (A kernel
      // built without VALE refuses the request: then there is no header to reset.)
      let inherited = 0;
      try {
        inherited = port.getHeaderLength();
      } catch {
        inherited = 0;
      }
      if (inherited !== 0) port.setHeaderLength(0);
      return backend;
    } catch (e) {
      port.close();
      throw openError(name, e);
    }
  }

  get stats(): Readonly<BackendStats> {
    return this.counters;
  }

  get vnetHdrLen(): number {
    return this.hdrLen;
  }

  attach(listener: BackendListener): void {
    if (this.closed) return;
    this.listener = listener;
    if (this.enabled) this.schedule();
  }

  send(iov: Iov, iovcnt: number): number {
    if (this.closed) return 0;
    const count = Math.min(iovcnt, iov.length);
    let len = 0;
    for (let i = 0; i < count; i++) len += iov[i]!.length;
    const ring = len > this.hdrLen ? this.txRingFor(len) : undefined;
    if (ring === undefined || !ring.put(iov, count, len) || !this.publish()) {
      this.counters.txDrops++;
      return 0;
    }
    this.counters.txFrames++;
    this.counters.txBytes += len;
    return len;
  }

  /** A TX ring with room for `len` bytes (one txsync to reclaim slots first if needed). */
  private txRingFor(len: number): TxRing | undefined {
    const first = this.tx[0]!;
    const slots = first.slotsFor(len);
    if (slots > NETMAP_MAX_FRAGS) {
      this.netmap.txTooBig++;
      return undefined;
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const ring of this.tx) if (ring.space() >= slots) return ring;
      if (attempt === 0 && !this.sync(true)) return undefined;
    }
    this.netmap.txRingFull++;
    return undefined;
  }

  /** Hands the frame just put to the kernel: now (txsync=frame, bhyve), or once per batch. */
  private publish(): boolean {
    if (!this.txBatch) return this.sync(true);
    this.txPending = true;
    if (!this.txFlushQueued) {
      this.txFlushQueued = true;
      queueMicrotask(this.flushTx);
    }
    return true;
  }

  /** txsync=batch: one NIOCTXSYNC after the caller's synchronous run of sends. */
  private readonly flushTx = (): void => {
    this.txFlushQueued = false;
    if (this.txPending && !this.closed) this.sync(true);
  };

  /** NIOCTXSYNC / NIOCRXSYNC; a failure is counted, never thrown at the device. */
  private sync(tx: boolean): boolean {
    try {
      if (tx) {
        this.txPending = false;
        this.port.txSync();
      } else {
        this.port.rxSync();
        for (const ring of this.rx) ring.unsynced = 0;
      }
      if (!tx) this.peeked = 0;
      return true;
    } catch {
      this.netmap.syncErrors++;
      return false;
    }
  }

  /** Length of the next complete frame on any bound RX ring, 0 when none (no sync). */
  private peekRings(): number {
    const rings = this.rx;
    for (let k = 0; k < rings.length; k++) {
      let r = this.rxCursor + k;
      if (r >= rings.length) r -= rings.length;
      const len = rings[r]!.peek();
      if (len > 0) {
        this.rxCursor = r;
        this.peeked = len;
        return len;
      }
    }
    return 0;
  }

  peekRecvLen(): number {
    if (this.closed) return 0;
    if (this.peeked > 0) return this.peeked;
    const len = this.peekRings();
    if (len > 0 || !this.sync(false)) return len;
    return this.peekRings();
  }

  recv(iov: Iov, iovcnt: number): number {
    const len = this.peekRecvLen();
    if (len === 0) return 0;
    const ring = this.rx[this.rxCursor]!;
    this.peeked = 0;
    const n = ring.take(iov, Math.min(iovcnt, iov.length), len);
    if (this.rx.length > 1) this.rxCursor = this.rxCursor + 1 === this.rx.length ? 0 : this.rxCursor + 1;
    // Hand half a ring of released slots back without waiting for the next poll or empty peek.
    if (ring.unsynced * 2 >= ring.view.numSlots) this.sync(false);
    if (n < 0) {
      this.counters.rxDrops++;
      return -1;
    }
    this.counters.rxFrames++;
    this.counters.rxBytes += n;
    return n;
  }

  rxDiscard(): number {
    const len = this.peekRecvLen();
    if (len === 0) return 0;
    this.peeked = 0;
    this.rx[this.rxCursor]!.drop();
    this.counters.rxDrops++;
    return len;
  }

  rxEnable(): void {
    if (this.closed) return;
    this.enabled = true;
    this.port.watchReadable(this.onReadable);
    this.schedule();
  }

  rxDisable(): void {
    this.enabled = false;
    if (!this.closed) this.port.watchReadable(null);
  }

  private readonly onReadable = (): void => this.fire();

  /** rxReady on a later turn (never from inside a verb), if frames are waiting then. */
  private schedule(): void {
    if (this.cancelFire === undefined && !this.closed) this.cancelFire = scheduleSoon(this.scheduled);
  }

  private readonly scheduled = (): void => {
    this.cancelFire = undefined;
    this.fire();
  };

  private fire(): void {
    if (!this.enabled || this.closed || this.listener === undefined || this.peekRecvLen() === 0) return;
    this.listener.rxReady();
    // Level-triggered: frames left behind (the listener ran out of buffers) call again.
    if (this.enabled && !this.closed && this.peekRings() > 0) this.schedule();
  }

  getCap(): bigint {
    if (this.closed) return 0n;
    if (this.caps === undefined) {
      // bhyve's probe: the port takes a 12-byte header iff it can carry the offloads.
      try {
        this.port.setHeaderLength(12);
        this.port.setHeaderLength(this.portHdrLen);
        this.caps = NETMAP_FEATURES;
      } catch {
        this.caps = 0n;
      }
    }
    return this.caps;
  }

  setCap(features: bigint, vnetHdrLen: number): void {
    if (this.closed) return;
    if (!isValidVnetHdrLen(vnetHdrLen)) {
      throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: virtio-net header length ${vnetHdrLen} (expected 0, 10 or 12)`);
    }
    const extra = features & ~this.getCap();
    if (extra !== 0n) {
      throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: features outside getCap(): ${netFeatureNames(extra).join(', ') || `0x${extra.toString(16)}`}`);
    }
    if (vnetHdrLen === this.portHdrLen) {
      this.hdrLen = vnetHdrLen;
      return;
    }
    try {
      this.port.setHeaderLength(vnetHdrLen);
      this.portHdrLen = this.hdrLen = vnetHdrLen;
    } catch (e) {
      // The port cannot carry a header (a NIC): without offloads the device adapts (length 0).
      if (features !== 0n) throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: the port refuses a ${vnetHdrLen}-byte header`, { cause: e });
      this.hdrLen = this.portHdrLen;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.enabled = false;
    this.listener = undefined;
    this.cancelFire?.();
    this.cancelFire = undefined;
    if (this.txPending) this.sync(true); // frames already accepted still go out
    this.port.close();
  }
}
