/**
 * One vhost-user connection, back-end side: the protocol state machine (vhost-user.rst,
 * "Front-end message types", "Ring states"). It takes decoded messages and returns the reply
 * bytes; the server does the socket I/O. Every message is untrusted: a message that breaks the
 * protocol throws {@link VhostUserError} and the server closes the connection. Fds that came
 * with a message are always either kept (and closed later) or closed before `handle` returns.
 */
import { descTableBytes, availRingBytes, usedRingBytes, featureMask } from '@netbe/virtio';
import type { VhostUserDevice } from './device';
import { VhostUserError } from './errors';
import { MemoryTable } from './memory-table';
import {
  checkNoOverlap,
  decodeConfig,
  decodeMemRegion,
  decodeMemTable,
  decodeU64,
  decodeVringAddr,
  decodeVringFd,
  decodeVringState,
  encodeConfig,
  encodeMessage,
  encodeU64,
  encodeVringState,
  expectFds,
  expectSize,
  type VhostUserMessage,
  type VringAddr,
} from './messages';
import type { FdWatch, VhostUserPlatform } from './platform';
import {
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FLAG_VERSION,
  MAX_MEM_SLOTS,
  ProtocolFeature,
  protocolMask,
  Req,
  requestName,
  SUPPORTED_PROTOCOL_FEATURES,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VRING_F_LOG,
} from './protocol';

const F_PROTOCOL_FEATURES = featureMask(VHOST_USER_F_PROTOCOL_FEATURES);

interface Vring {
  size: number;
  addr: VringAddr | null;
  base: number;
  kickFd: number;
  callFd: number;
  errFd: number;
  watch: FdWatch | null;
  /** Started: the kick fd arrived (libvhost-user starts the ring on SET_VRING_KICK). */
  started: boolean;
  enabled: boolean;
  /** Started, enabled, with memory, and handed to the device. */
  running: boolean;
  errorSignalled: boolean;
}

/** What a session counts, for logs and tests. */
export interface SessionStats {
  messages: number;
  kicks: number;
  interrupts: number;
}

export class VhostUserSession {
  readonly stats: SessionStats = { messages: 0, kicks: 0, interrupts: 0 };
  private readonly device: VhostUserDevice;
  private readonly platform: VhostUserPlatform;
  private readonly log: (line: string) => void;
  private readonly vrings: Vring[];
  /** Call fds by ring index, for the interrupt hot path. */
  private readonly callFds: Int32Array;
  private memoryTable: MemoryTable | null = null;
  private features = 0n;
  private featuresSet = false;
  private protocolFeatures = 0n;
  private closed = false;
  /**
   * Called when something outside a message handler fails for good (an eventfd that cannot be
   * read or written, a kick fd that polls with an error): the server closes the connection.
   */
  onFatal: (error: Error) => void = () => {};

  constructor(device: VhostUserDevice, platform: VhostUserPlatform, log: (line: string) => void = () => {}) {
    this.device = device;
    this.platform = platform;
    this.log = log;
    this.vrings = Array.from({ length: device.numQueues }, () => newVring(device.maxQueueSize));
    this.callFds = new Int32Array(device.numQueues).fill(-1);
    device.onInterrupt = (index) => {
      const fd = this.callFds[index]!;
      if (fd >= 0) {
        this.stats.interrupts++;
        try {
          this.platform.signalEventfd(fd);
        } catch (e) {
          this.fatal(new VhostUserError('ERR_IO', `ring ${index}: writing the call eventfd failed: ${(e as Error).message}`, { cause: e }));
        }
      }
    };
  }

  /** The features the front-end acked with SET_FEATURES (0n before). */
  get ackedFeatures(): bigint {
    return this.features;
  }

  get ackedProtocolFeatures(): bigint {
    return this.protocolFeatures;
  }

  /** The ring indices handed to the device, for tests and logs. */
  runningRings(): number[] {
    return this.vrings.flatMap((v, i) => (v.running ? [i] : []));
  }

  /**
   * Handles one request; returns the reply to send (header included) or null. Throws
   * {@link VhostUserError} when the connection must be closed.
   */
  handle(msg: VhostUserMessage): Uint8Array | null {
    if (this.closed) throw new VhostUserError('ERR_PROTOCOL', 'session is closed');
    this.stats.messages++;
    const kept = new Set<number>();
    try {
      const reply = this.dispatch(msg, kept);
      if (reply !== null) return encodeMessage(msg.request, reply, FLAG_VERSION | FLAG_REPLY);
      if ((msg.flags & FLAG_NEED_REPLY) !== 0 && this.hasProtocol(ProtocolFeature.REPLY_ACK)) {
        return encodeMessage(msg.request, encodeU64(0), FLAG_VERSION | FLAG_REPLY);
      }
      return null;
    } finally {
      for (const fd of msg.fds) if (!kept.has(fd)) this.closeQuietly(fd);
    }
  }

  /** Stops every ring, resets the device, unmaps memory, closes fds. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resetAll();
    this.device.onInterrupt = () => {};
  }

  private fatal(error: Error): void {
    if (this.closed) return;
    // Deferred: the failure may be reported from inside the device's own processing.
    queueMicrotask(() => {
      if (!this.closed) this.onFatal(error);
    });
  }

  private hasProtocol(bit: number): boolean {
    return (this.protocolFeatures & protocolMask(bit)) !== 0n;
  }

  private offeredFeatures(): bigint {
    return this.device.getFeatures() | F_PROTOCOL_FEATURES;
  }

  private vring(msg: VhostUserMessage, index: number): Vring {
    const v = this.vrings[index];
    if (!v) throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: ring ${index} does not exist (the device has ${this.vrings.length})`);
    return v;
  }

  private dispatch(msg: VhostUserMessage, kept: Set<number>): Uint8Array | null {
    const noFds = (): void => expectFds(msg, 0);
    switch (msg.request) {
      case Req.GET_FEATURES:
        expectSize(msg, 0);
        noFds();
        return encodeU64(this.offeredFeatures());
      case Req.SET_FEATURES: {
        noFds();
        const f = decodeU64(msg);
        const extra = f & ~this.offeredFeatures();
        if (extra !== 0n) throw new VhostUserError('ERR_PROTOCOL', `SET_FEATURES: 0x${f.toString(16)} has bits that were not offered: 0x${extra.toString(16)}`);
        this.features = f;
        this.featuresSet = true;
        try {
          this.device.setFeatures(f & ~F_PROTOCOL_FEATURES);
        } catch (e) {
          throw e instanceof VhostUserError ? e : new VhostUserError('ERR_PROTOCOL', `SET_FEATURES: ${(e as Error).message}`, { cause: e });
        }
        return null;
      }
      case Req.GET_PROTOCOL_FEATURES:
        expectSize(msg, 0);
        noFds();
        return encodeU64(SUPPORTED_PROTOCOL_FEATURES);
      case Req.SET_PROTOCOL_FEATURES: {
        noFds();
        const f = decodeU64(msg);
        const extra = f & ~SUPPORTED_PROTOCOL_FEATURES;
        if (extra !== 0n) throw new VhostUserError('ERR_PROTOCOL', `SET_PROTOCOL_FEATURES: 0x${f.toString(16)} has bits that were not offered: 0x${extra.toString(16)}`);
        this.protocolFeatures = f;
        const names = Object.entries(ProtocolFeature)
          .filter(([, bit]) => (f & protocolMask(bit)) !== 0n)
          .map(([name]) => name);
        this.log(`protocol features: ${names.join(', ') || 'none'}`);
        return null;
      }
      case Req.SET_OWNER:
        expectSize(msg, 0);
        noFds();
        return null;
      case Req.RESET_OWNER:
      case Req.RESET_DEVICE:
        expectSize(msg, 0);
        noFds();
        if (msg.request === Req.RESET_DEVICE && !this.hasProtocol(ProtocolFeature.RESET_DEVICE)) {
          throw new VhostUserError('ERR_PROTOCOL', 'RESET_DEVICE (34): the RESET_DEVICE protocol feature was not negotiated');
        }
        this.resetAll();
        return null;
      case Req.GET_QUEUE_NUM:
        expectSize(msg, 0);
        noFds();
        return encodeU64(this.vrings.length);
      case Req.SET_MEM_TABLE:
        this.setMemTable(msg);
        return null;
      case Req.GET_MAX_MEM_SLOTS:
        expectSize(msg, 0);
        noFds();
        return encodeU64(MAX_MEM_SLOTS);
      case Req.ADD_MEM_REG:
        this.addMemRegion(msg, kept);
        return null;
      case Req.REM_MEM_REG:
        this.removeMemRegion(msg);
        return null;
      case Req.SET_VRING_NUM: {
        noFds();
        const s = decodeVringState(msg);
        const v = this.vring(msg, s.index);
        if (v.started) throw new VhostUserError('ERR_PROTOCOL', `SET_VRING_NUM: ring ${s.index} is running`);
        if (s.num === 0 || (s.num & (s.num - 1)) !== 0 || s.num > this.device.maxQueueSize) {
          throw new VhostUserError('ERR_PROTOCOL', `SET_VRING_NUM: ring ${s.index} size ${s.num} is not a power of two in 1..${this.device.maxQueueSize}`);
        }
        v.size = s.num;
        return null;
      }
      case Req.SET_VRING_ADDR: {
        noFds();
        const a = decodeVringAddr(msg);
        const v = this.vring(msg, a.index);
        if ((a.flags & ~VRING_F_LOG) !== 0) throw new VhostUserError('ERR_PROTOCOL', `SET_VRING_ADDR: unknown flags 0x${a.flags.toString(16)}`);
        if ((a.flags & VRING_F_LOG) !== 0) throw new VhostUserError('ERR_PROTOCOL', 'SET_VRING_ADDR: used-ring logging requested, but LOG_ALL was not offered');
        v.addr = a;
        // Checked now for a clear error; checked again against the memory in force at start.
        if (this.memoryTable) this.ringAddresses(msg, a.index, v);
        if (v.started) this.startRing(msg, a.index, v);
        return null;
      }
      case Req.SET_VRING_BASE: {
        noFds();
        const s = decodeVringState(msg);
        const v = this.vring(msg, s.index);
        if (v.started) throw new VhostUserError('ERR_PROTOCOL', `SET_VRING_BASE: ring ${s.index} is running`);
        if (s.num > 0xffff) throw new VhostUserError('ERR_PROTOCOL', `SET_VRING_BASE: ring ${s.index} base ${s.num} is not a 16-bit index (packed rings are not supported)`);
        v.base = s.num;
        return null;
      }
      case Req.GET_VRING_BASE: {
        noFds();
        const s = decodeVringState(msg);
        const v = this.vring(msg, s.index);
        // vhost-user.rst: "stop ring ... and return the index of the next descriptor".
        this.stopRing(s.index, v);
        return encodeVringState({ index: s.index, num: v.base });
      }
      case Req.SET_VRING_KICK:
      case Req.SET_VRING_CALL:
      case Req.SET_VRING_ERR:
        this.setVringFd(msg, kept);
        return null;
      case Req.SET_VRING_ENABLE: {
        noFds();
        const s = decodeVringState(msg);
        const v = this.vring(msg, s.index);
        if (s.num > 1) throw new VhostUserError('ERR_PROTOCOL', `SET_VRING_ENABLE: ring ${s.index} state ${s.num} is neither 0 nor 1`);
        v.enabled = s.num === 1;
        this.updateRunning(s.index, v);
        return null;
      }
      case Req.GET_CONFIG:
      case Req.SET_CONFIG: {
        noFds();
        if (!this.hasProtocol(ProtocolFeature.CONFIG)) throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: the CONFIG protocol feature was not negotiated`);
        const c = decodeConfig(msg);
        if (msg.request === Req.SET_CONFIG) {
          try {
            this.device.writeConfig(c.offset, c.bytes);
          } catch (e) {
            throw new VhostUserError('ERR_PROTOCOL', `SET_CONFIG: ${(e as Error).message}`, { cause: e });
          }
          return null;
        }
        const out = new Uint8Array(c.size);
        try {
          this.device.readConfig(c.offset, out);
        } catch (e) {
          throw new VhostUserError('ERR_PROTOCOL', `GET_CONFIG: ${(e as Error).message}`, { cause: e });
        }
        return encodeConfig({ offset: c.offset, flags: c.flags, bytes: out });
      }
      case Req.SEND_RARP: {
        noFds();
        if (!this.hasProtocol(ProtocolFeature.RARP)) throw new VhostUserError('ERR_PROTOCOL', 'SEND_RARP (19): the RARP protocol feature was not negotiated');
        expectSize(msg, 8);
        this.device.announce(msg.payload.slice(0, 6));
        return null;
      }
      case Req.NET_SET_MTU: {
        noFds();
        if (!this.hasProtocol(ProtocolFeature.NET_MTU)) throw new VhostUserError('ERR_PROTOCOL', 'NET_SET_MTU (20): the NET_MTU protocol feature was not negotiated');
        const mtu = decodeU64(msg);
        try {
          this.device.setMtu(Number(BigInt.asUintN(32, mtu)) === Number(mtu) ? Number(mtu) : -1);
        } catch (e) {
          throw new VhostUserError('ERR_PROTOCOL', `NET_SET_MTU: ${(e as Error).message}`, { cause: e });
        }
        return null;
      }
      default:
        throw new VhostUserError('ERR_UNSUPPORTED_REQUEST', `${requestName(msg.request)} is not supported by this back-end`);
    }
  }

  private setMemTable(msg: VhostUserMessage): void {
    const regions = decodeMemTable(msg);
    // MemoryTable.map closes the fds, mapped or not; handle() must not close them again.
    const fds = msg.fds;
    msg.fds = [];
    this.installMemory(msg, MemoryTable.map(this.platform, regions, fds));
  }

  /** ADD_MEM_REG (CONFIGURE_MEM_SLOTS): one more region, checked against the ones in force. */
  private addMemRegion(msg: VhostUserMessage, kept: Set<number>): void {
    this.requireProtocol(msg, ProtocolFeature.CONFIGURE_MEM_SLOTS, 'CONFIGURE_MEM_SLOTS');
    const region = decodeMemRegion(msg);
    expectFds(msg, 1);
    const current = this.memoryTable ?? MemoryTable.empty();
    if (current.regions.length >= MAX_MEM_SLOTS) throw new VhostUserError('ERR_PROTOCOL', `ADD_MEM_REG (37): all ${MAX_MEM_SLOTS} memory slots are in use`);
    checkNoOverlap(msg, [...current.regions, region]);
    const fd = msg.fds[0]!;
    kept.add(fd);
    let mapped;
    try {
      mapped = MemoryTable.mapRegion(this.platform, region, fd, 'ADD_MEM_REG (37): the region');
    } finally {
      this.closeQuietly(fd);
    }
    this.installMemory(msg, current.withRegion(mapped));
  }

  /** REM_MEM_REG: the region with the same guest address, size and user address goes away. */
  private removeMemRegion(msg: VhostUserMessage): void {
    this.requireProtocol(msg, ProtocolFeature.CONFIGURE_MEM_SLOTS, 'CONFIGURE_MEM_SLOTS');
    const region = decodeMemRegion(msg);
    if (msg.fds.length > 1) expectFds(msg, 1); // an fd may come along (and is closed); more may not
    const current = this.memoryTable;
    const index = current ? current.indexOf(region) : -1;
    if (!current || index < 0) {
      throw new VhostUserError('ERR_PROTOCOL', `REM_MEM_REG (38): no region at guest address 0x${region.guestPhysAddr.toString(16)}, size 0x${region.size.toString(16)}, user address 0x${region.userAddr.toString(16)}`);
    }
    this.installMemory(msg, current.withoutRegion(index));
  }

  /**
   * Puts `table` in force: the device gets its memory, started rings are re-translated and
   * rebound (a ring whose memory went away is an error), then the previous table's mappings
   * that `table` does not share are released.
   */
  private installMemory(msg: VhostUserMessage, table: MemoryTable): void {
    const old = this.memoryTable;
    this.memoryTable = table;
    try {
      this.device.setMemory(table.memory);
      this.vrings.forEach((v, i) => {
        if (v.started) this.startRing(msg, i, v);
      });
    } finally {
      old?.release(table);
    }
    this.log(`memory: ${table.regions.map((r) => `gpa 0x${r.guestPhysAddr.toString(16)}+0x${r.size.toString(16)}`).join(', ') || 'no regions'}`);
  }

  private requireProtocol(msg: VhostUserMessage, bit: number, name: string): void {
    if (!this.hasProtocol(bit)) throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: the ${name} protocol feature was not negotiated`);
  }

  private setVringFd(msg: VhostUserMessage, kept: Set<number>): void {
    const p = decodeVringFd(msg);
    const v = this.vring(msg, p.index);
    const fd = p.noFd ? -1 : msg.fds[0]!;
    if (fd >= 0) {
      try {
        this.platform.setNonBlocking(fd);
      } catch (e) {
        throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: ring ${p.index}: the fd is unusable: ${(e as Error).message}`, { cause: e });
      }
      kept.add(fd);
    }
    switch (msg.request) {
      case Req.SET_VRING_KICK:
        if (p.noFd) {
          // Bit 8 asks the back-end to poll the ring instead; we need the eventfd.
          throw new VhostUserError('ERR_PROTOCOL', `SET_VRING_KICK: ring ${p.index} without a kick fd (polling mode) is not supported`);
        }
        this.stopRing(p.index, v);
        v.kickFd = fd;
        this.startRing(msg, p.index, v);
        return;
      case Req.SET_VRING_CALL:
        if (v.callFd >= 0) this.closeQuietly(v.callFd);
        v.callFd = fd;
        this.callFds[p.index] = fd;
        return;
      case Req.SET_VRING_ERR:
        if (v.errFd >= 0) this.closeQuietly(v.errFd);
        v.errFd = fd;
        v.errorSignalled = false;
        return;
    }
  }

  /** Translates the ring's three user addresses; throws ERR_MEMORY when one is outside memory. */
  private ringAddresses(msg: VhostUserMessage, index: number, v: Vring): { desc: number; avail: number; used: number } {
    const a = v.addr;
    const table = this.memoryTable;
    if (!a || !table) throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: ring ${index} has no ${a ? 'memory table' : 'addresses'} yet`);
    const parts: Array<[string, number, number]> = [
      ['descriptor table', a.descUserAddr, descTableBytes(v.size)],
      ['avail ring', a.availUserAddr, availRingBytes(v.size)],
      ['used ring', a.usedUserAddr, usedRingBytes(v.size)],
    ];
    const out: number[] = [];
    for (const [name, addr, len] of parts) {
      const gpa = table.userToGuest(addr, len);
      if (gpa < 0) throw new VhostUserError('ERR_MEMORY', `${requestName(msg.request)}: ring ${index} ${name} at user address 0x${addr.toString(16)}+${len} is outside every memory region`);
      out.push(gpa);
    }
    return { desc: out[0]!, avail: out[1]!, used: out[2]! };
  }

  /** Programs the device's queue from the ring state and starts it (on SET_VRING_KICK). */
  private startRing(msg: VhostUserMessage, index: number, v: Vring): void {
    const table = this.memoryTable;
    if (!table) throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: ring ${index} started before SET_MEM_TABLE`);
    if (!v.addr) throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: ring ${index} started before SET_VRING_ADDR`);
    if (!this.featuresSet) throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: ring ${index} started before SET_FEATURES`);
    const addrs = this.ringAddresses(msg, index, v);
    const wasRunning = v.running;
    if (wasRunning) this.setRunning(index, v, false);
    const q = this.device.queue(index);
    const keepIndices = v.started && q.ready;
    const lastAvail = keepIndices ? q.lastAvailIdx : v.base;
    q.reset();
    q.size = v.size;
    q.descAddr = addrs.desc;
    q.availAddr = addrs.avail;
    q.usedAddr = addrs.used;
    q.setFeatures(this.features);
    q.lastAvailIdx = lastAvail;
    if (!q.activate(table.memory)) {
      throw new VhostUserError('ERR_MEMORY', `${requestName(msg.request)}: ring ${index}: ${q.error?.message ?? 'rejected by the queue'}`);
    }
    // The front-end owns the used index while the ring is stopped (a guest that kept running
    // while we were away): resume from what is in memory, not from zero.
    q.syncUsedIdxFromRing();
    v.started = true;
    v.errorSignalled = false;
    if (!v.watch) {
      const fd = v.kickFd;
      try {
        v.watch = this.platform.watchReadable(
          fd,
          () => this.onKick(index, v, fd),
          (e) => this.fatal(new VhostUserError('ERR_IO', `ring ${index}: polling the kick fd failed: ${e.message}`, { cause: e })),
        );
      } catch (e) {
        throw new VhostUserError('ERR_PROTOCOL', `${requestName(msg.request)}: ring ${index}: the kick fd cannot be polled (not an eventfd?): ${(e as Error).message}`, { cause: e });
      }
    }
    // Without protocol features the ring is enabled as soon as it starts (vhost-user.rst, "Ring states").
    if ((this.features & F_PROTOCOL_FEATURES) === 0n) v.enabled = true;
    this.updateRunning(index, v);
  }

  private onKick(index: number, v: Vring, fd: number): void {
    if (v.kickFd !== fd || this.closed) return;
    try {
      if (!this.platform.drainEventfd(fd)) return;
      this.stats.kicks++;
      if (!v.running) return;
      this.device.kick(index);
      this.checkBroken(index, v);
    } catch (e) {
      this.fatal(e instanceof VhostUserError ? e : new VhostUserError('ERR_IO', `ring ${index}: kick failed: ${(e as Error).message}`, { cause: e }));
    }
  }

  /** A ring the guest broke is reported once on its error eventfd (SET_VRING_ERR). */
  private checkBroken(index: number, v: Vring): void {
    if (v.errFd >= 0 && !v.errorSignalled && this.device.queue(index).error !== null) {
      v.errorSignalled = true;
      this.log(`ring ${index}: ${this.device.queue(index).error!.message}`);
      try {
        this.platform.signalEventfd(v.errFd);
      } catch (e) {
        this.fatal(new VhostUserError('ERR_IO', `ring ${index}: writing the error eventfd failed: ${(e as Error).message}`, { cause: e }));
      }
    }
  }

  private updateRunning(index: number, v: Vring): void {
    const want = v.started && v.enabled && this.memoryTable !== null;
    if (want !== v.running) this.setRunning(index, v, want);
  }

  private setRunning(index: number, v: Vring, running: boolean): void {
    v.running = running;
    this.device.setQueueRunning(index, running);
    // Chains may have been queued while the ring was disabled: look once.
    if (running) {
      this.device.kick(index);
      this.checkBroken(index, v);
    }
  }

  private stopRing(index: number, v: Vring): void {
    if (v.running) this.setRunning(index, v, false);
    // Where the ring stopped is where it restarts unless SET_VRING_BASE says otherwise.
    if (v.started) v.base = this.device.queue(index).lastAvailIdx;
    v.watch?.stop();
    v.watch = null;
    if (v.kickFd >= 0) this.closeQuietly(v.kickFd);
    v.kickFd = -1;
    v.started = false;
  }

  private resetAll(): void {
    this.vrings.forEach((v, i) => {
      this.stopRing(i, v);
      if (v.callFd >= 0) this.closeQuietly(v.callFd);
      if (v.errFd >= 0) this.closeQuietly(v.errFd);
      this.vrings[i] = newVring(this.device.maxQueueSize);
      this.callFds[i] = -1;
    });
    this.device.reset();
    this.device.setMemory(null);
    this.memoryTable?.release();
    this.memoryTable = null;
    this.features = 0n;
    this.featuresSet = false;
  }

  private closeQuietly(fd: number): void {
    try {
      this.platform.close(fd);
    } catch {
      // already closed
    }
  }
}

function newVring(size: number): Vring {
  return { size, addr: null, base: 0, kickFd: -1, callFd: -1, errFd: -1, watch: null, started: false, enabled: false, running: false, errorSignalled: false };
}
