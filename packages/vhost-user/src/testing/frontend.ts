/**
 * A vhost-user front-end test double: what QEMU does, in process, so the back-end can be tested
 * and benchmarked without a VM. It owns "guest RAM" as a memfd (several regions, mapped shared,
 * at guest-physical and front-end virtual addresses that differ so translation is exercised),
 * drives one {@link MockDriver} per ring, sends the protocol messages with real fds (SCM_RIGHTS),
 * kicks through eventfds and receives interrupts on call eventfds.
 *
 * It can also send anything at all (`sendRaw`) for hostile tests.
 */
import { sys, type Watcher } from '@netbe/sys';
import { GuestMemory } from '@netbe/virtio';
import { MockDriver } from '@netbe/virtio/testing';
import { MessageReader } from '../message-reader';
import {
  encodeMemRegion,
  encodeMemTable,
  encodeMessage,
  encodeU64,
  encodeVringAddr,
  encodeVringFd,
  encodeVringState,
  type MemoryRegionDesc,
  type VhostUserMessage,
} from '../messages';
import { FLAG_NEED_REPLY, FLAG_VERSION, HEADER_SIZE, MAX_PAYLOAD, ProtocolFeature, Req, VHOST_USER_F_PROTOCOL_FEATURES, protocolMask } from '../protocol';

export interface VhostUserFrontendOptions {
  socketPath: string;
  /** Rings (virtqueues) to drive; default 2 (RX 0, TX 1). Ring i lives in memory region i. */
  rings?: number;
  /** Bytes per memory region (a multiple of the page size); default 4 MiB. */
  regionSize?: number;
  /** Ring size; default 256. */
  queueSize?: number;
}

export interface SetUpOptions {
  /** Features to accept (intersected with what the back-end offers); default: all offered. */
  features?: bigint;
  /** Protocol features to accept (intersected with the offer); default: all offered. */
  protocolFeatures?: bigint;
  /** Send SET_VRING_ENABLE 1 for every ring; default true. */
  enable?: boolean;
  /** Avail index to start each ring from (SET_VRING_BASE); default 0. */
  base?: number;
  /**
   * How memory is announced: 'auto' (default) does what QEMU does, ADD_MEM_REG per region when
   * CONFIGURE_MEM_SLOTS was negotiated, else SET_MEM_TABLE; 'table' always SET_MEM_TABLE.
   */
  memory?: 'auto' | 'table';
}

const USER_BASE = 0x7f3a_0000_0000;
const PROTOCOL_BIT = 1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES);

interface Waiter {
  resolve: (m: VhostUserMessage) => void;
  reject: (e: Error) => void;
}

export class VhostUserFrontend {
  /** The connection's socket (replaced by {@link reconnect}). */
  fd: number;
  readonly memfd: number;
  readonly regions: MemoryRegionDesc[];
  /** Per ring: the guest memory holding its rings and buffers (its own region). */
  readonly memories: GuestMemory[];
  /** Per ring: the driver. Created by the constructor; rings are set up by {@link setUp}. */
  readonly drivers: MockDriver[];
  readonly kickFds: number[] = [];
  readonly callFds: number[] = [];
  /** Features and protocol features agreed by {@link setUp}. */
  features = 0n;
  protocolFeatures = 0n;
  /** Resolves when the back-end closes the connection. */
  closed: Promise<void>;
  isClosed = false;

  private readonly socketPath: string;
  private readonly mapping: ArrayBuffer;
  private watcher: Watcher;
  private readonly callWatchers: Watcher[] = [];
  private reader = new MessageReader({ replies: true });
  private readonly buffer = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD);
  private readonly waiters: Waiter[] = [];
  private readonly unsolicited: VhostUserMessage[] = [];
  private markClosed!: () => void;
  private released = false;

  constructor(o: VhostUserFrontendOptions) {
    const rings = o.rings ?? 2;
    const regionSize = o.regionSize ?? 4 << 20;
    this.memfd = sys.memfdCreate('netbe-vhost-user-frontend');
    sys.ftruncate(this.memfd, regionSize * rings);
    this.mapping = sys.mmap(this.memfd, 0, regionSize * rings);
    this.regions = [];
    this.memories = [];
    this.drivers = [];
    for (let i = 0; i < rings; i++) {
      // Guest-physical 4 GiB apart, user addresses elsewhere: the back-end must translate.
      const region: MemoryRegionDesc = { guestPhysAddr: i * 0x1_0000_0000, size: regionSize, userAddr: USER_BASE + i * 0x1000_0000, mmapOffset: i * regionSize };
      this.regions.push(region);
      const memory = new GuestMemory([{ guestPhysAddr: region.guestPhysAddr, bytes: new Uint8Array(this.mapping, region.mmapOffset, regionSize) }]);
      this.memories.push(memory);
      this.drivers.push(new MockDriver({ memory, queueSize: o.queueSize ?? 256 }));
    }
    this.socketPath = o.socketPath;
    this.closed = Promise.resolve();
    this.fd = -1;
    this.watcher = this.connect();
  }

  private connect(): Watcher {
    this.fd = sys.unixConnect(this.socketPath);
    this.isClosed = false;
    this.reader = new MessageReader({ replies: true });
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    const fd = this.fd;
    const watcher = sys.watcherCreate(fd, (error) => {
      if (fd !== this.fd) return;
      if (error) this.onDisconnect(`socket error: ${error.message}`);
      else this.readAll();
    });
    sys.watcherStart(watcher, sys.READABLE);
    return watcher;
  }

  /**
   * Drops the connection and connects again, keeping guest memory and the rings as they are:
   * what QEMU does with `reconnect=` while the guest keeps running. Follow with {@link setUp}
   * (passing the ring's `base` from before).
   */
  reconnect(): void {
    this.onDisconnect('reconnecting');
    this.watcher = this.connect();
  }

  /** The front-end's virtual address of guest-physical `gpa` in ring `ring`'s region. */
  userAddr(ring: number, gpa: number): number {
    const r = this.regions[ring]!;
    return r.userAddr + (gpa - r.guestPhysAddr);
  }

  // ---- raw messages -------------------------------------------------------------------------

  /** Sends bytes exactly as given, with `fds` (hostile tests). */
  sendRaw(bytes: Uint8Array, fds: readonly number[] = []): void {
    const n = sys.sendmsg(this.fd, bytes, fds);
    if (n !== bytes.length) throw new Error(`sendmsg sent ${n} of ${bytes.length} bytes`);
  }

  /** Sends one request (no reply awaited). */
  send(request: number, payload?: Uint8Array, o: { fds?: readonly number[]; flags?: number } = {}): void {
    this.sendRaw(encodeMessage(request, payload, o.flags ?? FLAG_VERSION), o.fds ?? []);
  }

  /** Sends one request and waits for its reply. */
  request(request: number, payload?: Uint8Array, o: { fds?: readonly number[]; flags?: number } = {}): Promise<VhostUserMessage> {
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    const reply = new Promise<VhostUserMessage>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.send(request, payload, o);
    return reply.then((m) => {
      if (m.request !== request) throw new Error(`reply to request ${m.request}, expected ${request}`);
      return m;
    });
  }

  /** Sends with NEED_REPLY and waits for the REPLY_ACK u64 (0 = success). */
  async requestAck(request: number, payload?: Uint8Array, fds?: readonly number[]): Promise<bigint> {
    const m = await this.request(request, payload, { fds, flags: FLAG_VERSION | FLAG_NEED_REPLY });
    return new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).getBigUint64(0, true);
  }

  async getU64(request: number): Promise<bigint> {
    const m = await this.request(request);
    if (m.payload.length !== 8) throw new Error(`reply of ${m.payload.length} bytes, expected 8`);
    return new DataView(m.payload.buffer, m.payload.byteOffset, 8).getBigUint64(0, true);
  }

  // ---- the QEMU sequence ----------------------------------------------------------------------

  /**
   * What QEMU does when the guest driver sets DRIVER_OK: features, protocol features, owner,
   * memory table, then per ring NUM, BASE, ADDR, KICK, CALL and ENABLE. Uses every ring's
   * {@link MockDriver} layout.
   */
  async setUp(o: SetUpOptions = {}): Promise<void> {
    const offered = await this.getU64(Req.GET_FEATURES);
    this.features = offered & (o.features === undefined ? ~0n : o.features | PROTOCOL_BIT);
    if ((offered & PROTOCOL_BIT) !== 0n) {
      const pOffered = await this.getU64(Req.GET_PROTOCOL_FEATURES);
      this.protocolFeatures = pOffered & (o.protocolFeatures ?? ~0n);
      this.send(Req.SET_PROTOCOL_FEATURES, encodeU64(this.protocolFeatures));
    }
    await this.getU64(Req.GET_QUEUE_NUM);
    this.send(Req.SET_OWNER);
    this.send(Req.SET_FEATURES, encodeU64(this.features));
    const ringFeatures = this.features & ~PROTOCOL_BIT;
    for (const d of this.drivers) d.setFeatures(ringFeatures);
    if ((o.memory ?? 'auto') === 'auto' && (this.protocolFeatures & protocolMask(ProtocolFeature.CONFIGURE_MEM_SLOTS)) !== 0n) {
      const slots = await this.getU64(Req.GET_MAX_MEM_SLOTS);
      if (slots < BigInt(this.regions.length)) throw new Error(`the back-end has ${slots} memory slots, ${this.regions.length} needed`);
      for (const r of this.regions) this.addMemRegion(r);
    } else {
      this.sendMemTable();
    }
    for (let i = 0; i < this.drivers.length; i++) this.setUpRing(i, o.base ?? 0);
    if (o.enable ?? true) for (let i = 0; i < this.drivers.length; i++) this.send(Req.SET_VRING_ENABLE, encodeVringState({ index: i, num: 1 }));
    // A round trip makes sure the back-end has handled everything above.
    await this.getU64(Req.GET_FEATURES);
  }

  /** SET_MEM_TABLE with every region backed by the memfd. */
  sendMemTable(regions: readonly MemoryRegionDesc[] = this.regions): void {
    this.send(Req.SET_MEM_TABLE, encodeMemTable(regions), { fds: regions.map(() => this.memfd) });
  }

  /** ADD_MEM_REG (CONFIGURE_MEM_SLOTS) for one region backed by the memfd. */
  addMemRegion(r: MemoryRegionDesc): void {
    this.send(Req.ADD_MEM_REG, encodeMemRegion(r), { fds: [this.memfd] });
  }

  /** REM_MEM_REG for one region. */
  removeMemRegion(r: MemoryRegionDesc): void {
    this.send(Req.REM_MEM_REG, encodeMemRegion(r));
  }

  /** Ring `i`: NUM, BASE, ADDR, then a fresh kick and call eventfd. */
  setUpRing(i: number, base = 0): void {
    const d = this.drivers[i]!;
    this.send(Req.SET_VRING_NUM, encodeVringState({ index: i, num: d.size }));
    this.send(Req.SET_VRING_BASE, encodeVringState({ index: i, num: base }));
    this.send(
      Req.SET_VRING_ADDR,
      encodeVringAddr({ index: i, flags: 0, descUserAddr: this.userAddr(i, d.descAddr), usedUserAddr: this.userAddr(i, d.usedAddr), availUserAddr: this.userAddr(i, d.availAddr), logGuestAddr: 0 }),
    );
    const kick = sys.eventfdCreate(0);
    const call = sys.eventfdCreate(0);
    this.replaceEventfd(this.kickFds, i, kick);
    this.replaceEventfd(this.callFds, i, call);
    d.onKick = () => void sys.eventfdWrite(kick, 1);
    if (this.callWatchers[i]) sys.watcherClose(this.callWatchers[i]!);
    const w = sys.watcherCreate(call, () => {
      if (sys.eventfdRead(call) > 0) d.interrupt();
    });
    sys.watcherStart(w, sys.READABLE);
    this.callWatchers[i] = w;
    this.send(Req.SET_VRING_KICK, encodeVringFd(i, false), { fds: [kick] });
    this.send(Req.SET_VRING_CALL, encodeVringFd(i, false), { fds: [call] });
  }

  /** GET_VRING_BASE: stops ring `i` in the back-end and returns its next avail index. */
  async getVringBase(i: number): Promise<number> {
    const m = await this.request(Req.GET_VRING_BASE, encodeVringState({ index: i, num: 0 }));
    return new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).getUint32(4, true);
  }

  // ---- teardown -------------------------------------------------------------------------------

  /** Closes the connection, eventfds, the mapping and the memfd. Idempotent. */
  close(): void {
    if (this.released) return;
    this.released = true;
    this.onDisconnect('closed by the front-end');
    for (const w of this.callWatchers) if (w) sys.watcherClose(w);
    for (const fd of [...this.kickFds, ...this.callFds]) if (fd !== undefined) sys.close(fd);
    sys.munmap(this.mapping);
    sys.close(this.memfd);
  }

  /** Messages that arrived while no request was waiting (should stay empty). */
  get unexpected(): readonly VhostUserMessage[] {
    return this.unsolicited;
  }

  private replaceEventfd(list: number[], i: number, fd: number): void {
    if (list[i] !== undefined) sys.close(list[i]!);
    list[i] = fd;
  }

  private readAll(): void {
    for (;;) {
      let r;
      try {
        r = sys.recvmsg(this.fd, this.buffer.subarray(0, this.reader.wanted()), 8);
      } catch (e) {
        this.onDisconnect(`recvmsg: ${(e as Error).message}`);
        return;
      }
      if (r === null) return;
      if (r.bytes === 0) {
        this.onDisconnect('back-end closed the connection');
        return;
      }
      let msgs: VhostUserMessage[];
      try {
        msgs = this.reader.push(this.buffer.subarray(0, r.bytes), r.fds);
      } catch (e) {
        this.onDisconnect(`bad reply: ${(e as Error).message}`);
        return;
      }
      for (const m of msgs) {
        const w = this.waiters.shift();
        if (w) w.resolve(m);
        else this.unsolicited.push(m);
      }
    }
  }

  private onDisconnect(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    sys.watcherClose(this.watcher);
    sys.close(this.fd);
    for (const w of this.waiters.splice(0)) w.reject(new Error(`connection closed: ${reason}`));
    this.markClosed();
  }
}
