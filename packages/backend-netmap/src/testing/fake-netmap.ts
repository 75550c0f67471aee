import {
  NETMAP_MAX_FRAGS,
  NR_REG_ALL_NIC,
  NR_REG_NIC_SW,
  NR_REG_ONE_NIC,
  NR_REG_ONE_SW,
  NR_REG_SW,
  NS_BUF_CHANGED,
  NS_MOREFRAG,
  type NetmapPort,
  type NetmapPortInfo,
  type NetmapRegistration,
  type NetmapSystem,
} from '@netbe/netmap-bindings';
import { ringNext, ringSpace } from '../port-memory';
import { FakeKring, FakeRegion } from './fake-region';

/** How the double's kernel hands slots back. */
export type PeerBehaviour =
  /** Like netmap on a quiet machine: every txsync completes all sent slots, every rxsync publishes all. */
  | 'in-order'
  /**
   * A peer that returns slots out of turn: TX slots come back late and in part, with other
   * buffers in them (NS_BUF_CHANGED); released RX slots get other buffers; an rxsync may publish
   * only part of what arrived, cutting a frame between its slots.
   */
  | 'out-of-turn'
  /** A stuck link: txsync takes frames but never hands TX slots back, so the TX ring fills. */
  | 'stalled';

export interface FakeNetmapOptions {
  /** Slots per ring (default 256). */
  slots?: number;
  /** nr_buf_size (default 2048). */
  bufSize?: number;
  /** Ring pairs of a VALE port (default 1). */
  valeRings?: number;
  peer?: PeerBehaviour;
  /** Seed of the double's PRNG (out-of-turn choices). */
  seed?: number;
  /** Hands the user a mapping this many bytes shorter than the rings claim. */
  shortenRegionBy?: number;
}

/** An error shaped like the addon's: `code` is the errno name. */
function sysError(code: string, what: string): Error {
  return Object.assign(new Error(`${what}: ${code}`), { code, syscall: 'ioctl' });
}

/** Frames the double's kernel saw leave through a NIC ring. */
export interface WireFrame {
  ring: number;
  host: boolean;
  bytes: Uint8Array;
}

/** Something that owns rings: a VALE port or a NIC. */
abstract class FakeAdapter {
  hdrLen = 0;
  drops = 0;
  readonly fds = new Set<FakePort>();
  constructor(
    readonly fake: FakeNetmap,
    readonly name: string,
    readonly region: FakeRegion,
    readonly tx: FakeKring[],
    readonly hostTx: FakeKring[],
    readonly rx: FakeKring[],
    readonly hostRx: FakeKring[],
  ) {}
  abstract acceptsHeader(len: number): boolean;
  /** A frame left through one of our TX rings. */
  abstract transmitted(kring: FakeKring, frame: Uint8Array): void;
  /** The last fd closed. */
  abstract released(): void;

  /** Writes a frame into an RX ring (kernel side: [hwtail, hwcur-1) is ours). */
  deliver(kring: FakeKring, hdr: number, payload: Uint8Array): boolean {
    const n = kring.numSlots;
    const bufSize = this.region.bufSize;
    const len = hdr + payload.length;
    const need = Math.max(1, Math.ceil(len / bufSize));
    const free = ringSpace(kring.hwtail, (kring.hwcur + n - 1) % n, n);
    if (need > free || need > NETMAP_MAX_FRAGS) {
      this.drops++;
      return false;
    }
    let i = kring.hwtail;
    let pos = 0; // position in [zeroed header][payload]
    for (let s = 0; s < need; s++) {
      const buf = kring.buffer(i)!;
      const fill = Math.min(bufSize, len - pos);
      let k = 0;
      if (pos < hdr) {
        k = Math.min(hdr - pos, fill);
        buf.fill(0, 0, k);
      }
      if (k < fill) {
        const start = pos + k - hdr;
        buf.set(payload.subarray(start, start + fill - k), k);
      }
      pos += fill;
      kring.setLen(i, fill);
      kring.setFlags(i, s + 1 < need ? NS_MOREFRAG : 0);
      i = ringNext(i, n);
    }
    kring.hwtail = i;
    for (const fd of this.fds) if (fd.binds(kring)) fd.kick();
    return true;
  }
}

class FakeValePort extends FakeAdapter {
  constructor(fake: FakeNetmap, name: string, region: FakeRegion, tx: FakeKring[], rx: FakeKring[], readonly sw: FakeSwitch) {
    super(fake, name, region, tx, [], rx, []);
  }
  acceptsHeader(len: number): boolean {
    return len === 0 || len === 10 || len === 12;
  }
  transmitted(_kring: FakeKring, frame: Uint8Array): void {
    this.sw.forward(this, frame);
  }
  released(): void {
    this.sw.ports.delete(this.name);
  }
}

/** A VALE switch of the double: floods every frame to the other ports, adapting header lengths. */
export class FakeSwitch {
  readonly ports = new Map<string, FakeValePort>();
  forwarded = 0;
  constructor(readonly name: string) {}

  forward(from: FakeValePort, frame: Uint8Array): void {
    const payload = frame.subarray(Math.min(from.hdrLen, frame.length));
    for (const port of this.ports.values()) {
      if (port === from) continue;
      // The frame goes to the port's first RX ring (VALE hashes flows; one ring is enough here).
      if (port.deliver(port.rx[0]!, port.hdrLen, payload)) this.forwarded++;
    }
  }
}

/** A NIC of the double: what its TX rings send lands in `wire`; `inject` makes frames arrive. */
export class FakeNic extends FakeAdapter {
  readonly wire: WireFrame[] = [];
  acceptsHeader(len: number): boolean {
    return len === 0;
  }
  transmitted(kring: FakeKring, frame: Uint8Array): void {
    const host = kring.index >= this.tx.length;
    this.wire.push({ ring: host ? kring.index - this.tx.length : kring.index, host, bytes: frame.slice() });
  }
  released(): void {}

  /** Makes `frame` arrive on NIC RX ring `ring`. False when the ring had no room (counted in drops). */
  inject(frame: Uint8Array, ring = 0): boolean {
    return this.deliver(this.rx[ring]!, 0, frame);
  }
}

/** A tiny deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An in-process test double of netmap's kernel side: regions laid out as netmap lays them
 * (netmap_if, rings, buffer pool in one ArrayBuffer), VALE switches whose ports are created on
 * first open, NICs with several ring pairs plus a host pair, and syncs that move hwcur/hwtail and
 * the user-visible tail exactly where the kernel would (or, with peer 'out-of-turn', late, in part
 * and with swapped buffers). Readiness behaves as poll(2) on a netmap fd: level-triggered, with an
 * rxsync before each report.
 */
export class FakeNetmap implements NetmapSystem {
  readonly slots: number;
  readonly bufSize: number;
  /** May be changed at any time (e.g. back to 'in-order' to let everything settle). */
  peer: PeerBehaviour;
  readonly random: () => number;
  private readonly valeRings: number;
  private readonly shortenBy: number;
  private nextMemId = 2;
  readonly switches = new Map<string, FakeSwitch>();
  readonly nics = new Map<string, FakeNic>();
  /** Ports currently open. */
  readonly open = new Set<FakePort>();

  constructor(options: FakeNetmapOptions = {}) {
    this.slots = options.slots ?? 256;
    this.bufSize = options.bufSize ?? 2048;
    this.peer = options.peer ?? 'in-order';
    this.random = prng(options.seed ?? 1);
    this.valeRings = options.valeRings ?? 1;
    this.shortenBy = options.shortenRegionBy ?? 0;
  }

  private region(rings: number, nifps: number): FakeRegion {
    return new FakeRegion(
      this.nextMemId++,
      { ifBytes: nifps * FakeRegion.ifBytes(rings), ringBytes: rings * FakeRegion.ringBytes(this.slots), buffers: rings * this.slots + this.slots },
      this.bufSize,
    );
  }

  private rings(region: FakeRegion, dir: 'tx' | 'rx', from: number, count: number): FakeKring[] {
    return Array.from({ length: count }, (_, i) => region.newRing(dir, from + i, this.slots));
  }

  /** Adds a NIC with `rings` ring pairs and one host pair. */
  addNic(name: string, rings = 1): FakeNic {
    const region = this.region(2 * (rings + 1), 8);
    const nic = new FakeNic(this, name, region, this.rings(region, 'tx', 0, rings), this.rings(region, 'tx', rings, 1), this.rings(region, 'rx', 0, rings), this.rings(region, 'rx', rings, 1));
    this.nics.set(name, nic);
    return nic;
  }

  switchNamed(name: string): FakeSwitch {
    let sw = this.switches.get(name);
    if (!sw) {
      sw = new FakeSwitch(name);
      this.switches.set(name, sw);
    }
    return sw;
  }

  openPort(registration: NetmapRegistration): FakePort {
    const { name } = registration;
    const mode = registration.mode ?? NR_REG_ALL_NIC;
    const ringId = registration.ringId ?? 0;
    const what = `ioctl(NIOCCTRL, NETMAP_REQ_REGISTER) ${name}`;
    let adapter: FakeAdapter;
    if (name.startsWith('vale')) {
      const colon = name.indexOf(':');
      if (colon < 0) throw sysError('EINVAL', what);
      const sw = this.switchNamed(name.slice(0, colon));
      if (sw.ports.has(name)) throw sysError('EBUSY', what);
      if (mode !== NR_REG_ALL_NIC && mode !== NR_REG_ONE_NIC) throw sysError('EINVAL', what);
      const r = this.valeRings;
      const region = this.region(2 * r, 1);
      const port = new FakeValePort(this, name, region, this.rings(region, 'tx', 0, r), this.rings(region, 'rx', 0, r), sw);
      sw.ports.set(name, port);
      adapter = port;
    } else {
      const nic = this.nics.get(name);
      if (!nic) throw sysError('ENXIO', what);
      adapter = nic;
    }
    const pick = (nic: FakeKring[], host: FakeKring[]): FakeKring[] | undefined => {
      switch (mode) {
        case NR_REG_ALL_NIC:
          return nic;
        case NR_REG_ONE_NIC:
          return ringId < nic.length ? [nic[ringId]!] : undefined;
        case NR_REG_SW:
          return host.length ? host : undefined;
        case NR_REG_ONE_SW:
          return ringId < host.length ? [host[ringId]!] : undefined;
        case NR_REG_NIC_SW:
          return [...nic, ...host];
        default:
          return undefined;
      }
    };
    const tx = pick(adapter.tx, adapter.hostTx);
    const rx = pick(adapter.rx, adapter.hostRx);
    if (!tx || !rx) {
      if (adapter.fds.size === 0) adapter.released();
      throw sysError('EINVAL', what);
    }
    const nifp = adapter.region.newIf(name, adapter.tx, adapter.hostTx, adapter.rx, adapter.hostRx);
    const port = new FakePort(this, adapter, mode, ringId, nifp, tx, rx, this.shortenBy);
    adapter.fds.add(port);
    this.open.add(port);
    return port;
  }

  /** The kernel's txsync of one ring: send [hwcur, head), hand back completed slots. */
  txsync(adapter: FakeAdapter, kring: FakeKring): void {
    const n = kring.numSlots;
    const head = kring.head;
    if (head >= n) {
      kring.head = kring.cur = kring.hwcur; // netmap_ring_reinit
      throw sysError('EINVAL', 'ioctl(NIOCTXSYNC)');
    }
    const parts: Uint8Array[] = [];
    let bad = false;
    for (let i = kring.hwcur; i !== head; i = ringNext(i, n)) {
      const buf = kring.buffer(i);
      const len = kring.len(i);
      if (!buf || len > buf.length) bad = true;
      else parts.push(buf.subarray(0, len));
      if ((kring.flags(i) & NS_MOREFRAG) === 0 || parts.length > NETMAP_MAX_FRAGS) {
        if (bad || parts.length > NETMAP_MAX_FRAGS) adapter.drops++;
        else adapter.transmitted(kring, concat(parts));
        parts.length = 0;
        bad = false;
      }
    }
    kring.hwcur = head;
    // Completion: every sent slot back (in order), or some of them, late, with other buffers.
    const sent = ringSpace(ringNext(kring.hwtail, n), head, n);
    let back = this.peer === 'stalled' ? 0 : sent;
    if (this.peer === 'out-of-turn' && this.random() < 0.5) back = Math.floor(this.random() * (sent + 1));
    for (let k = 0, i = ringNext(kring.hwtail, n); k < back; k++, i = ringNext(i, n)) {
      if (this.peer === 'out-of-turn') {
        kring.setBufIdx(i, adapter.region.swapBuffer(kring.bufIdx(i)));
        kring.setFlags(i, NS_BUF_CHANGED);
      }
    }
    kring.hwtail = (kring.hwtail + back) % n;
    kring.tail = kring.hwtail;
  }

  /** The kernel's rxsync of one ring: take back [hwcur, head), publish [tail, hwtail). */
  rxsync(adapter: FakeAdapter, kring: FakeKring): void {
    const n = kring.numSlots;
    const head = kring.head;
    if (head >= n) {
      kring.head = kring.cur = kring.hwcur;
      throw sysError('EINVAL', 'ioctl(NIOCRXSYNC)');
    }
    if (this.peer === 'out-of-turn') {
      for (let i = kring.hwcur; i !== head; i = ringNext(i, n)) kring.setBufIdx(i, adapter.region.swapBuffer(kring.bufIdx(i)));
    }
    kring.hwcur = head;
    const tail = kring.tail < n ? kring.tail : head;
    const arrived = ringSpace(tail, kring.hwtail, n);
    let publish = arrived;
    if (this.peer === 'out-of-turn' && this.random() < 0.5) publish = Math.floor(this.random() * (arrived + 1));
    kring.tail = (tail + publish) % n;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** One registration (an fd) on the double. */
export class FakePort implements NetmapPort {
  readonly name: string;
  readonly info: NetmapPortInfo;
  readonly memory: ArrayBuffer;
  private callback: (() => void) | null = null;
  private pollHandle: ReturnType<typeof setImmediate> | undefined;
  closed = false;

  constructor(
    private readonly fake: FakeNetmap,
    readonly adapter: FakeAdapter,
    readonly mode: number,
    readonly ringId: number,
    readonly nifpOffset: number,
    /** The rings this registration bound (tests reach into them to play a hostile kernel). */
    readonly txKrings: FakeKring[],
    readonly rxKrings: FakeKring[],
    shortenBy: number,
  ) {
    this.name = adapter.name;
    const region = adapter.region;
    this.memory = shortenBy > 0 ? region.memory.slice(0, Math.max(0, region.memory.byteLength - shortenBy)) : region.memory;
    this.info = {
      memsize: region.memory.byteLength,
      txSlots: fake.slots,
      rxSlots: fake.slots,
      txRings: adapter.tx.length,
      rxRings: adapter.rx.length,
      hostTxRings: adapter.hostTx.length,
      hostRxRings: adapter.hostRx.length,
      memId: region.memId,
    };
  }

  binds(kring: FakeKring): boolean {
    return this.rxKrings.includes(kring);
  }

  /** NIOCTXSYNC / NIOCRXSYNC calls made on this fd. */
  txSyncs = 0;
  rxSyncs = 0;

  txSync(): void {
    if (this.closed) throw sysError('EBADF', 'ioctl(NIOCTXSYNC)');
    this.txSyncs++;
    for (const k of this.txKrings) this.fake.txsync(this.adapter, k);
  }

  rxSync(): void {
    if (this.closed) throw sysError('EBADF', 'ioctl(NIOCRXSYNC)');
    this.rxSyncs++;
    for (const k of this.rxKrings) this.fake.rxsync(this.adapter, k);
  }

  setHeaderLength(len: number): void {
    // netmap: lengths other than 0/10/12 are EINVAL; a port that is not a VALE port is ENXIO.
    if (!this.adapter.acceptsHeader(len)) {
      const code = len === 0 || len === 10 || len === 12 ? 'ENXIO' : 'EINVAL';
      throw sysError(code, `ioctl(NIOCCTRL, NETMAP_REQ_PORT_HDR_SET) ${this.name}`);
    }
    this.adapter.hdrLen = len;
  }

  getHeaderLength(): number {
    return this.adapter.hdrLen;
  }

  watchReadable(callback: (() => void) | null): void {
    if (this.closed) return;
    this.callback = callback;
    if (callback) this.kick();
  }

  /** Something arrived: poll soon, if watched. */
  kick(): void {
    if (this.pollHandle !== undefined || !this.callback || this.closed) return;
    this.pollHandle = setImmediate(this.poll);
  }

  /** poll(2) on a netmap fd: rxsync, then readable while any bound RX ring has slots. */
  private readonly poll = (): void => {
    this.pollHandle = undefined;
    if (!this.callback || this.closed) return;
    this.rxSync();
    if (this.rxKrings.some((k) => k.head !== k.tail)) {
      this.callback();
      this.kick();
    }
  };

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.callback = null;
    if (this.pollHandle !== undefined) clearImmediate(this.pollHandle);
    this.adapter.fds.delete(this);
    this.fake.open.delete(this);
    if (this.adapter.fds.size === 0) this.adapter.released();
  }
}
