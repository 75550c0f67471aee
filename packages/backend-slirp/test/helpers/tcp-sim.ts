/**
 * A deterministic network simulator for the TCP tests (smoltcp's netsim idea): a seeded lossy,
 * reordering, duplicating, delaying link between the sans-I/O stack and a model guest TCP, with a
 * virtual clock advanced to the next event. The model guest is a plain but complete TCP peer:
 * SYN with MSS / window scale / SACK-permitted / timestamps (each optional), a receiver with an
 * out-of-order buffer that reports SACK blocks (RFC 2018), a sender with an RTO (go-back-N) and
 * SACK-aware fast retransmit, and FIN handling.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, checksumAdd, foldChecksum, type TcpOptions, type TcpRepr } from '@netbe/wire';
import { FRAME_COMPLETE } from '../../src/guest-link';
import { GATEWAY, GUEST, arpRequest, completePartialChecksum, decode, ip, tcpFrame, type Decoded } from './guest';
import { makeStack } from './stack';

export const REMOTE = ip('192.0.2.10');
const lt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
const le = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
const diff = (a: number, b: number): number => (a - b) | 0;

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 0x100000000;
  };
}

export function payloadOf(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

export interface LinkSpec {
  loss: number;
  /** Probability that a packet is delayed by an extra 1..4 ms (overtaken by later ones). */
  reorder: number;
  duplicate: number;
  /** One-way delay, ms. */
  delay: number;
}

/** One direction of the link: packets with delivery times. */
class Pipe {
  private readonly q: Array<{ at: number; seq: number; frame: Uint8Array }> = [];
  private n = 0;
  delivered = 0;
  lost = 0;
  constructor(private readonly spec: LinkSpec, private readonly r: () => number) {}
  send(frame: Uint8Array, now: number): void {
    if (this.r() < this.spec.loss) {
      this.lost++;
      return;
    }
    const copies = this.r() < this.spec.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const extra = this.r() < this.spec.reorder ? 1 + Math.floor(this.r() * 4) : 0;
      this.q.push({ at: now + this.spec.delay + extra, seq: this.n++, frame });
    }
  }
  next(): number {
    let t = Infinity;
    for (const p of this.q) if (p.at < t) t = p.at;
    return t;
  }
  take(now: number): Uint8Array[] {
    const due = this.q.filter((p) => p.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (let i = this.q.length - 1; i >= 0; i--) if (this.q[i]!.at <= now) this.q.splice(i, 1);
    this.delivered += due.length;
    return due.map((p) => p.frame);
  }
}

export interface GuestSpec {
  mss?: number;
  windowScale?: number;
  sack?: boolean;
  timestamps?: boolean;
  /** Receive window in bytes (advertised, scaled). */
  window?: number;
}

/** The model guest TCP (client side: it opens the connection). */
export class SimGuest {
  readonly port: number;
  // receive side
  rcvNxt = 0;
  readonly received: Uint8Array[] = [];
  receivedBytes = 0;
  private readonly ooo: Array<{ seq: number; data: Uint8Array }> = [];
  private lastOooSeq = -1;
  finReceived = false;
  rstReceived = false;
  private tsRecent = 0;
  // send side
  private iss = 100000;
  una = 0;
  nxt = 0;
  private sndWnd = 0;
  private peerWscale = 0;
  private peerSack = false;
  private peerTs = false;
  private dup = 0;
  private recoverAt = -1;
  private lastSack: Array<[number, number]> = [];
  rtoAt = Infinity;
  private rto = 200;
  data: Uint8Array = new Uint8Array(0);
  closeAfterData = false;
  finSent = false;
  finAcked = false;
  established = false;
  retransmits = 0;
  readonly out: Uint8Array[] = [];

  constructor(private readonly spec: GuestSpec, port: number) {
    this.port = port;
  }

  private get wscale(): number {
    return this.spec.windowScale ?? 7;
  }
  private get window(): number {
    return this.spec.window ?? 1 << 20;
  }
  private get mss(): number {
    return this.spec.mss ?? 1460;
  }

  private options(now: number, sackBlocks?: Array<[number, number]>): TcpOptions | undefined {
    const o: TcpOptions = {};
    if (this.spec.timestamps && this.peerTs) o.timestamp = { value: now >>> 0, echo: this.tsRecent };
    if (sackBlocks && sackBlocks.length > 0) o.sack = sackBlocks;
    return o.timestamp || o.sack ? o : undefined;
  }

  private frame(flags: number, seq: number, payload?: Uint8Array, options?: TcpOptions): void {
    const scaled = this.established ? Math.min(65535, this.window >> this.wscale) : Math.min(65535, this.window);
    const repr: TcpRepr = { srcPort: this.port, dstPort: 80, seq: seq >>> 0, ack: this.established || flags & TCP_ACK ? this.rcvNxt >>> 0 : 0, flags, window: scaled, options };
    this.out.push(tcpFrame(GUEST, REMOTE, repr, payload));
  }

  connect(now: number): void {
    const o: TcpOptions = { mss: this.mss };
    if (this.spec.windowScale !== undefined) o.windowScale = this.spec.windowScale;
    if (this.spec.sack) o.sackPermitted = true;
    if (this.spec.timestamps) o.timestamp = { value: now >>> 0, echo: 0 };
    this.frame(TCP_SYN, this.iss, undefined, o);
    this.nxt = this.iss + 1;
    this.una = this.iss;
    this.rtoAt = now + 1000;
  }

  /** Offsets into `data` ↔ sequence numbers. */
  private seqOf(off: number): number {
    return (this.iss + 1 + off) >>> 0;
  }
  private offOf(seq: number): number {
    return diff(seq, this.iss + 1);
  }

  input(d: Decoded, now: number): void {
    const t = d.tcp!;
    if (t.flags & TCP_RST) {
      this.rstReceived = true;
      return;
    }
    const o = t.headerLen > 20 ? t.options : {};
    if (!this.established) {
      if ((t.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK) && t.ack === ((this.iss + 1) >>> 0)) {
        this.established = true;
        this.rcvNxt = (t.seq + 1) >>> 0;
        this.peerWscale = o.windowScale !== undefined && this.spec.windowScale !== undefined ? o.windowScale : 0;
        this.peerSack = !!o.sackPermitted && !!this.spec.sack;
        this.peerTs = !!o.timestamp && !!this.spec.timestamps;
        if (this.peerTs) this.tsRecent = o.timestamp!.value;
        this.una = t.ack;
        this.sndWnd = t.window; // SYN-ACK window is unscaled
        this.rtoAt = Infinity;
        this.frame(TCP_ACK, this.nxt, undefined, this.options(now));
      }
      return;
    }
    if (t.flags & TCP_SYN) {
      // A retransmitted SYN-ACK: our ACK was lost.
      this.frame(TCP_ACK, this.nxt, undefined, this.options(now));
      return;
    }
    if (this.peerTs && o.timestamp && le(t.seq, this.rcvNxt)) this.tsRecent = o.timestamp.value;
    // ACK processing (our sender).
    if (t.flags & TCP_ACK) {
      if (this.peerSack && o.sack) this.lastSack = o.sack.map(([l, r]) => [l, r]);
      if (lt(this.una, t.ack) && le(t.ack, this.nxtMax())) {
        this.una = t.ack;
        this.dup = 0;
        this.rto = 200;
        this.rtoAt = diff(this.nxtMax(), this.una) > 0 ? now + this.rto : Infinity;
        if (this.finSent && this.una === this.nxtMax()) this.finAcked = true;
        if (this.recoverAt >= 0 && lt(t.ack, this.recoverAt)) this.retransmitHoles(now, 1); // partial ACK: the next hole
        else this.recoverAt = -1;
      } else if (t.ack === this.una && t.payload.length === 0 && diff(this.nxt, this.una) > 0) {
        if (++this.dup === 3 && this.recoverAt < 0) {
          this.recoverAt = this.nxtMax();
          this.retransmitHoles(now);
        }
      }
      this.sndWnd = t.window << this.peerWscale;
    }
    // Data.
    const p = t.payload;
    if (p.length > 0 || t.flags & TCP_FIN) {
      const off = diff(t.seq, this.rcvNxt);
      if (off <= 0) {
        if (p.length + off > 0) this.accept(p.subarray(-off));
        if (t.flags & TCP_FIN && ((t.seq + p.length) >>> 0) === this.rcvNxt && !this.finReceived) {
          this.finReceived = true;
          this.rcvNxt = (this.rcvNxt + 1) >>> 0;
        }
        this.drainOoo();
      } else if (p.length > 0 && off < this.window) {
        if (!this.ooo.some((s) => s.seq === t.seq)) this.ooo.push({ seq: t.seq, data: p.slice() });
        this.lastOooSeq = t.seq;
      }
      // One ACK per data segment, carrying RCV.NXT as of its arrival (no ACK compression).
      this.frame(TCP_ACK, this.nxt, undefined, this.options(now, this.sackBlocks()));
    }
  }

  private nxtMax(): number {
    return this.maxSent ?? this.nxt;
  }
  private maxSent: number | undefined;

  private accept(b: Uint8Array): void {
    this.received.push(b.slice());
    this.receivedBytes += b.length;
    this.rcvNxt = (this.rcvNxt + b.length) >>> 0;
  }

  private drainOoo(): void {
    for (let progress = true; progress; ) {
      progress = false;
      for (let i = 0; i < this.ooo.length; i++) {
        const s = this.ooo[i]!;
        const off = diff(this.rcvNxt, s.seq);
        if (off >= 0) {
          this.ooo.splice(i, 1);
          if (off < s.data.length) this.accept(s.data.subarray(off));
          progress = true;
          break;
        }
      }
    }
  }

  private sackBlocks(): Array<[number, number]> {
    if (!this.peerSack || this.ooo.length === 0) return [];
    const sorted = [...this.ooo].sort((a, b) => diff(a.seq, b.seq));
    const runs: Array<[number, number]> = [];
    for (const s of sorted) {
      const end = (s.seq + s.data.length) >>> 0;
      const last = runs[runs.length - 1];
      if (last && le(s.seq, last[1])) {
        if (lt(last[1], end)) last[1] = end;
      } else runs.push([s.seq, end]);
    }
    const first = runs.findIndex(([l, r]) => le(l, this.lastOooSeq) && lt(this.lastOooSeq, r));
    if (first > 0) runs.unshift(...runs.splice(first, 1));
    return runs.slice(0, this.peerTs ? 3 : 4);
  }

  private isSacked(seq: number): boolean {
    return this.lastSack.some(([l, r]) => le(l, seq) && lt(seq, r));
  }

  private retransmitHoles(now: number, max = 8): void {
    this.retransmits++;
    // Without SACK: the first unacknowledged segment; with SACK: every hole below the highest SACKed byte.
    let highest = this.una;
    for (const [, r] of this.lastSack) if (lt(highest, r)) highest = r;
    let seq = this.una;
    let sent = 0;
    do {
      if (!this.isSacked(seq)) {
        const off = this.offOf(seq);
        const n = Math.min(this.mss, this.data.length - off);
        if (n <= 0) break;
        this.frame(TCP_ACK, seq, this.data.subarray(off, off + n), this.options(now));
        sent++;
        seq = (seq + n) >>> 0;
      } else seq = (seq + 1) >>> 0;
    } while (lt(seq, highest) && sent < max);
    this.rtoAt = now + this.rto;
  }

  /** Sends what the window allows; ACKs pending data. */
  pump(now: number): void {
    if (!this.established) return;
    for (;;) {
      const off = this.offOf(this.nxt);
      const inFlight = diff(this.nxt, this.una);
      const n = Math.min(this.mss - (this.peerTs ? 12 : 0), this.data.length - off, this.sndWnd - inFlight);
      if (n <= 0) break;
      this.frame(TCP_ACK, this.nxt, this.data.subarray(off, off + n), this.options(now));
      this.nxt = (this.nxt + n) >>> 0;
      if (this.maxSent === undefined || lt(this.maxSent, this.nxt)) this.maxSent = this.nxt;
      if (this.rtoAt === Infinity) this.rtoAt = now + this.rto;
    }
    if (this.closeAfterData && !this.finSent && this.offOf(this.nxt) >= this.data.length) {
      this.frame(TCP_ACK | TCP_FIN, this.nxt, undefined, this.options(now));
      this.nxt = (this.nxt + 1) >>> 0;
      if (this.maxSent === undefined || lt(this.maxSent, this.nxt)) this.maxSent = this.nxt;
      this.finSent = true;
      if (this.rtoAt === Infinity) this.rtoAt = now + this.rto;
    }

  }

  timer(now: number): void {
    if (now < this.rtoAt) return;
    if (!this.established) {
      this.connect(now);
      return;
    }
    if (diff(this.nxtMax(), this.una) <= 0 && !(this.finSent && !this.finAcked)) {
      // Zero-window: probe.
      if (this.sndWnd === 0 && this.offOf(this.nxt) < this.data.length) {
        const off = this.offOf(this.nxt);
        this.frame(TCP_ACK, this.nxt, this.data.subarray(off, off + 1), this.options(now));
      }
      this.rtoAt = this.sndWnd === 0 && this.offOf(this.nxt) < this.data.length ? now + this.rto : Infinity;
      return;
    }
    this.retransmits++;
    this.rto = Math.min(this.rto * 2, 10_000);
    this.recoverAt = -1;
    this.dup = 0;
    // Go back N.
    if (this.finSent && !this.finAcked) this.finSent = false;
    this.nxt = this.una;
    this.rtoAt = now + this.rto;
  }
}

/** What the simulated guest's NIC saw of the stack's offloaded frames (simulate with `tso`). */
export interface TsoStats {
  /** Frames with a GSO size (more than one segment's payload), and their segments. */
  gsoFrames: number;
  gsoSegments: number;
  /** Frames with a partial checksum and no GSO. */
  partialFrames: number;
  /** Every gso_size seen, the largest GSO frame payload, the largest IP datagram after cutting. */
  gsoSizes: Set<number>;
  maxGsoPayload: number;
  maxSegmentIpLen: number;
  /** Problems found in the frames (wrong offsets, a segment over the MTU…); empty when all is right. */
  errors: string[];
}

const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
};

/**
 * What a virtio guest (its NIC model or stack) does with a frame the stack left partial
 * (virtio 1.2 §5.1.6.4): a GSO_TCPV4 frame is cut into `gsoSize`-byte segments (sequence numbers
 * advanced, IP length and checksum redone, PSH/FIN on the last), every TCP checksum completed.
 */
export function segmentPartial(frame: Uint8Array, gsoSize: number, mtu: number, st: TsoStats): Uint8Array[] {
  const ihl = (frame[14]! & 0x0f) * 4;
  const tcpOff = 14 + ihl;
  const tcpHl = (frame[tcpOff + 12]! >>> 4) * 4;
  const headers = tcpOff + tcpHl;
  const total = get16(frame, 16);
  const payload = 14 + total - headers;
  if (frame[23] !== 6) st.errors.push('a partial frame that is not TCP');
  if (gsoSize <= 0) {
    st.partialFrames++;
    if (total > mtu) st.errors.push(`a ${total}-byte datagram without GSO`);
    const f = frame.slice(0, 14 + total);
    completePartialChecksum(f, tcpOff, 16);
    st.maxSegmentIpLen = Math.max(st.maxSegmentIpLen, total);
    return [f];
  }
  st.gsoFrames++;
  st.gsoSizes.add(gsoSize);
  st.maxGsoPayload = Math.max(st.maxGsoPayload, payload);
  if (payload <= gsoSize) st.errors.push(`GSO frame of ${payload} bytes with gso_size ${gsoSize}`);
  const out: Uint8Array[] = [];
  const seq0 = ((frame[tcpOff + 4]! << 24) | (frame[tcpOff + 5]! << 16) | (frame[tcpOff + 6]! << 8) | frame[tcpOff + 7]!) >>> 0;
  const flags = frame[tcpOff + 13]!;
  for (let at = 0; at < payload; at += gsoSize) {
    const n = Math.min(gsoSize, payload - at);
    const f = new Uint8Array(Math.max(60, headers + n));
    f.set(frame.subarray(0, headers), 0);
    f.set(frame.subarray(headers + at, headers + at + n), headers);
    put16(f, 16, ihl + tcpHl + n);
    put16(f, 24, 0);
    put16(f, 24, foldChecksum(checksumAdd(f, 14, tcpOff)));
    const seq = (seq0 + at) >>> 0;
    put16(f, tcpOff + 4, seq >>> 16);
    put16(f, tcpOff + 6, seq & 0xffff);
    const last = at + n >= payload;
    f[tcpOff + 13] = last ? flags : flags & ~(TCP_PSH | TCP_FIN);
    // The pseudo-header sum covers the segment's own length (RFC 793 §3.1).
    const src = get16(f, 26) + get16(f, 28) + get16(f, 30) + get16(f, 32);
    let sum = src + 6 + tcpHl + n;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    put16(f, tcpOff + 16, sum);
    completePartialChecksum(f, tcpOff, 16);
    if (ihl + tcpHl + n > mtu) st.errors.push(`a segment of ${ihl + tcpHl + n} bytes over the MTU`);
    st.maxSegmentIpLen = Math.max(st.maxSegmentIpLen, ihl + tcpHl + n);
    st.gsoSegments++;
    out.push(f);
  }
  return out;
}

export interface SimResult {
  now: number;
  /** With `tso`: what the guest's NIC saw. */
  tso: TsoStats;
  guest: SimGuest;
  handle: number;
  t: ReturnType<typeof makeStack>;
  hostWritten: Uint8Array;
  shutdown: boolean;
  steps: number;
}

/**
 * Runs one connection: guest connects, then `toGuest` bytes flow from the host and `toHost` from
 * the guest, each side closing when done. Ends when both directions are delivered and closed, or
 * at `limit` ms of virtual time.
 */
export function simulate(o: { seed: number; link: LinkSpec; guest: GuestSpec; toGuest?: Uint8Array; toHost?: Uint8Array; limit?: number; hostChunk?: number; hostSlowUntil?: number; tso?: boolean }): SimResult {
  const t = makeStack();
  // A guest that negotiated GUEST_CSUM + GUEST_TSO4: its NIC cuts GSO frames and finishes checksums.
  if (o.tso) t.stack.setGuestOffloads(true, true);
  const tso: TsoStats = { gsoFrames: 0, gsoSegments: 0, partialFrames: 0, gsoSizes: new Set(), maxGsoPayload: 0, maxSegmentIpLen: 0, errors: [] };
  const mtu = t.stack.options.mtu;
  const r = rng(o.seed);
  const down = new Pipe(o.link, r); // stack → guest
  const up = new Pipe(o.link, r); // guest → stack
  const g = new SimGuest(o.guest, 40000 + (o.seed % 1000));
  g.data = o.toHost ?? new Uint8Array(0);
  g.closeAfterData = true;
  const toGuest = o.toGuest ?? new Uint8Array(0);
  let now = 0;
  t.stack.input(arpRequest(GUEST, GATEWAY), 0);
  t.stack.takeFrame();
  g.connect(now);
  let handle = -1;
  let fed = 0;
  let paused = false;
  let hostEnded = false;
  let shutdown = false;
  const written: Uint8Array[] = [];
  let writtenBytes = 0;
  const limit = o.limit ?? 600_000;
  let steps = 0;
  const hostEvents = (): void => {
    for (const c of t.host.take('tcpConnect')) {
      handle = c.handle;
      t.stack.hostTcpConnected(c.handle, now);
    }
    for (const c of t.host.take('tcpPause')) paused = c.paused;
    for (const w of t.host.take('tcpWrite')) {
      written.push(w.data);
      writtenBytes += w.data.length;
    }
    if (t.host.take('tcpShutdown').length > 0) shutdown = true;
    t.host.calls.length = 0;
  };
  for (; now < limit; steps++) {
    hostEvents();
    const conn = handle >= 0 ? t.stack.tcp.connection(handle) : undefined;
    const open = conn !== undefined && conn.state !== 'SYN_RECEIVED' && conn.state !== 'HOST_CONNECTING';
    if (conn && open && !paused && fed < toGuest.length) {
      const n = Math.min(o.hostChunk ?? 65536, toGuest.length - fed);
      t.stack.hostTcpData(handle, toGuest.subarray(fed, fed + n), now);
      fed += n;
    }
    if (conn && open && fed >= toGuest.length && !hostEnded) {
      hostEnded = true;
      t.stack.hostTcpEnd(handle, now);
    }
    for (let offload = t.stack.frameOffload, f = t.stack.takeFrame(); f; offload = t.stack.frameOffload, f = t.stack.takeFrame()) {
      if (offload === FRAME_COMPLETE) down.send(f, now);
      else {
        if (!o.tso) tso.errors.push('a partial frame for a guest without offloads');
        for (const seg of segmentPartial(f, offload, mtu, tso)) down.send(seg, now);
        t.stack.releaseFrame(f); // the buffer is reused: what was sent are copies
      }
    }
    for (const f of down.take(now)) {
      const d = decode(f);
      if (d.tcp) g.input(d, now);
    }
    g.timer(now);
    g.pump(now);
    for (const f of g.out.splice(0)) up.send(f, now);
    for (const f of up.take(now)) t.stack.input(f, now);
    const deadline = t.stack.poll(now);
    hostEvents();
    const c2 = handle >= 0 ? t.stack.tcp.connection(handle) : undefined;
    const done = g.receivedBytes === toGuest.length && g.finReceived && g.finAcked && writtenBytes === g.data.length && (!c2 || c2.state === 'TIME_WAIT' || c2.state === 'CLOSED');
    if (done || g.rstReceived) break;
    if (t.stack.pendingFrames > 0 || g.out.length > 0) continue;
    const hostWants = c2 && !paused && fed < toGuest.length && c2.state !== 'SYN_RECEIVED' && c2.state !== 'HOST_CONNECTING';
    const next = Math.min(deadline, down.next(), up.next(), g.rtoAt);
    if (hostWants) continue;
    now = Math.max(now + 0.001, next === Infinity ? now + 1 : next);
  }
  const hostWritten = new Uint8Array(writtenBytes);
  let at = 0;
  for (const w of written) {
    hostWritten.set(w, at);
    at += w.length;
  }
  return { now, tso, guest: g, handle, t, hostWritten, shutdown, steps };
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
