import {
  BackendBase,
  NetbeError,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_UFO,
  type Iov,
} from '@netbe/core';
import { errnoOf, NETMAP_MAX_FRAGS, NetmapUnavailableError, netmapSystem, type NetmapPort, type NetmapSystem } from '@netbe/netmap-bindings';
import { newNetmapCounters, type NetmapCounters } from './counters';
import { parseNetmapName } from './port-name';
import { PortMemory } from './port-memory';
import { RxRing } from './rx-ring';
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
export class NetmapBackend extends BackendBase {
  /** Drop and distrust counters beyond {@link stats}. */
  readonly netmap: NetmapCounters = newNetmapCounters();
  private readonly port: NetmapPort;
  private readonly txRings: TxRing[];
  private readonly rxRings: RxRing[];
  private rxCursor = 0;
  /** Length of the frame the last peek found on rx[rxCursor] (0: look again). The slots stay ours
   * until released, so recv can take it without a second walk; take() re-checks every slot. */
  private peeked = 0;
  private portHdrLen = 0;
  /** What bhyve's probe found (see {@link caps}); undefined until first asked. */
  private probedCaps: bigint | undefined;
  /** txsync=batch: frames are in the TX ring but not yet handed to the kernel. */
  private txPending = false;
  private txFlushQueued = false;
  private readonly txBatch: boolean;

  private constructor(name: string, port: NetmapPort, memory: PortMemory, options: NetmapBackendOptions) {
    super(name);
    this.txBatch = options.txsync === 'batch';
    this.port = port;
    this.txRings = memory.tx.map((v) => new TxRing(memory, v, this.netmap));
    this.rxRings = memory.rx.map((v) => new RxRing(memory, v, this.netmap));
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

  protected transmit(iov: Iov, count: number, length: number): boolean {
    const ring = this.txRingFor(length);
    return ring !== undefined && ring.put(iov, count, length) && this.publish();
  }

  /** A TX ring with room for `len` bytes (one txsync to reclaim slots first if needed). */
  private txRingFor(len: number): TxRing | undefined {
    const first = this.txRings[0]!;
    const slots = first.slotsFor(len);
    if (slots > NETMAP_MAX_FRAGS) {
      this.netmap.txTooBig++;
      return undefined;
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const ring of this.txRings) if (ring.space() >= slots) return ring;
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
        for (const ring of this.rxRings) ring.unsynced = 0;
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
    const rings = this.rxRings;
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

  /** The next complete frame; an empty ring is rxsync'ed once before answering 0. */
  protected pendingLength(): number {
    if (this.peeked > 0) return this.peeked;
    const len = this.peekRings();
    if (len > 0 || !this.sync(false)) return len;
    return this.peekRings();
  }

  /** After an rxReady: frames left behind (the listener ran out of buffers) call again. No sync. */
  protected override rxMore(): boolean {
    return this.peekRings() > 0;
  }

  protected receive(iov: Iov, count: number): number {
    const len = this.pendingLength();
    if (len === 0) return 0;
    const ring = this.rxRings[this.rxCursor]!;
    this.peeked = 0;
    const n = ring.take(iov, count, len);
    if (this.rxRings.length > 1) this.rxCursor = this.rxCursor + 1 === this.rxRings.length ? 0 : this.rxCursor + 1;
    // Hand half a ring of released slots back without waiting for the next poll or empty peek.
    if (ring.unsynced * 2 >= ring.view.numSlots) this.sync(false);
    return n < 0 ? -1 : n;
  }

  protected discard(): number {
    const len = this.pendingLength();
    if (len === 0) return 0;
    this.peeked = 0;
    this.rxRings[this.rxCursor]!.drop();
    return len;
  }

  protected override startRx(): void {
    this.port.watchReadable(this.onReadable);
  }

  protected override stopRx(): void {
    this.port.watchReadable(null);
  }

  private readonly onReadable = (): void => {
    if (this.rx.isEnabled && this.pendingLength() > 0) this.rx.readyNow();
  };

  protected override caps(): bigint {
    if (this.probedCaps === undefined) {
      // bhyve's probe: the port takes a 12-byte header iff it can carry the offloads.
      try {
        this.port.setHeaderLength(12);
        this.port.setHeaderLength(this.portHdrLen);
        this.probedCaps = NETMAP_FEATURES;
      } catch {
        this.probedCaps = 0n;
      }
    }
    return this.probedCaps;
  }

  protected applyCap(features: bigint, vnetHdrLen: number): number {
    if (vnetHdrLen === this.portHdrLen) return vnetHdrLen;
    try {
      this.port.setHeaderLength(vnetHdrLen);
      return (this.portHdrLen = vnetHdrLen);
    } catch (e) {
      // The port cannot carry a header (a NIC): without offloads the device adapts (length 0).
      if (features !== 0n) throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: the port refuses a ${vnetHdrLen}-byte header`, { cause: e });
      return this.portHdrLen;
    }
  }

  protected override release(): void {
    if (this.txPending) this.sync(true); // frames already accepted still go out
    this.port.close();
  }
}
