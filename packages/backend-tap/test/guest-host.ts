/**
 * A minimal IPv4 host standing in for a guest: answers ARP and ICMP echo, resolves and pings a
 * peer, and runs a small TCP client (handshake, windowed sends with or without TSO, receive with
 * ACKs, FIN). Every IPv4/ICMP/TCP checksum it receives is verified (a partial checksum — the
 * virtio-net header's NEEDS_CSUM — is checked to hold the pseudo-header sum). It talks to the
 * world through a {@link FramePort}, so the same host drives a backend directly or a device
 * through MockDriver.
 */
import {
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  emptyVnetHeader,
  type VnetHeader,
} from '@netbe/core';
import { checksumAdd, foldChecksum, internetChecksum, pseudoHeaderSum, verifyChecksum } from '@netbe/wire';

export interface FramePort {
  /** Sends one Ethernet frame; `hdr` carries offload requests (needs a header-capable port). */
  send(frame: Uint8Array, hdr?: VnetHeader): void;
}

const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
};
const get32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const put32 = (b: Uint8Array, o: number, v: number): void => {
  put16(b, o, v >>> 16);
  put16(b, o + 2, v & 0xffff);
};

export function ipv4(text: string): number {
  const p = text.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function macBytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

const BROADCAST = new Uint8Array([255, 255, 255, 255, 255, 255]);
const ETH = 14;
const TCP_FIN = 1;
const TCP_SYN = 2;
const TCP_PSH = 8;
const TCP_ACK = 16;

/** What the host saw, for assertions. */
export interface HostCounters {
  framesIn: number;
  arpRequestsAnswered: number;
  echoRequestsAnswered: number;
  echoRepliesReceived: number;
  /** Frames whose IPv4, ICMP or TCP checksum was wrong (must stay 0). */
  checksumErrors: number;
  /** Checksums checked (full or partial). */
  checksumsVerified: number;
  /** Received TCP segments larger than one MSS (GSO frames passed through unsegmented). */
  gsoFramesIn: number;
  largestFrameIn: number;
}

export class GuestHost {
  readonly counters: HostCounters = {
    framesIn: 0,
    arpRequestsAnswered: 0,
    echoRequestsAnswered: 0,
    echoRepliesReceived: 0,
    checksumErrors: 0,
    checksumsVerified: 0,
    gsoFramesIn: 0,
    largestFrameIn: 0,
  };
  private readonly neighbours = new Map<number, Uint8Array>();
  private readonly waiters: Array<() => void> = [];
  private readonly connections = new Map<string, TcpConnection>();
  private ipId = 1;
  /** Every frame received, if set (the segmentation test looks at them). */
  onFrame?: (frame: Uint8Array, hdr: VnetHeader | null) => void;

  constructor(
    readonly mac: Uint8Array,
    readonly ip: number,
    readonly port: FramePort,
    readonly mtu = 1500,
  ) {}

  /** Feeds one received Ethernet frame (and its virtio-net header, if the port has one). */
  input(frame: Uint8Array, hdr: VnetHeader | null = null): void {
    this.counters.framesIn++;
    this.counters.largestFrameIn = Math.max(this.counters.largestFrameIn, frame.length);
    this.onFrame?.(frame, hdr);
    if (frame.length < ETH) return;
    const type = get16(frame, 12);
    if (type === 0x0806) this.inputArp(frame);
    else if (type === 0x0800) this.inputIpv4(frame, hdr);
    this.wake();
  }

  /** Learns a neighbour without ARP (for peers that exist only as a static entry). */
  addNeighbour(ip: number, mac: Uint8Array): void {
    this.neighbours.set(ip, mac);
  }

  async resolve(ip: number, timeoutMs = 5000): Promise<Uint8Array> {
    const end = Date.now() + timeoutMs;
    let nextAsk = 0;
    for (;;) {
      const mac = this.neighbours.get(ip);
      if (mac) return mac;
      if (Date.now() > end) throw new Error(`ARP for ${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255} got no reply`);
      if (Date.now() >= nextAsk) {
        this.sendArp(1, BROADCAST, ip);
        nextAsk = Date.now() + 500;
      }
      await this.until(100);
    }
  }

  /** Sends one ICMP echo request and resolves when the matching reply arrives. */
  async ping(dst: number, seq: number, size = 56, timeoutMs = 5000): Promise<void> {
    const mac = await this.resolve(dst);
    const before = this.counters.echoRepliesReceived;
    this.sendEchoRequest(dst, mac, seq, size);
    const end = Date.now() + timeoutMs;
    while (this.counters.echoRepliesReceived === before) {
      if (Date.now() > end) throw new Error(`no echo reply for seq ${seq}`);
      await this.until(100);
    }
  }

  /** Sends one ICMP echo request to `dst` at `mac` without waiting. */
  sendEchoRequest(dst: number, mac: Uint8Array, seq: number, size = 56): void {
    const frame = new Uint8Array(ETH + 20 + 8 + size);
    const icmp = ETH + 20;
    frame[icmp] = 8;
    put16(frame, icmp + 4, 0x4e42);
    put16(frame, icmp + 6, seq);
    for (let i = 0; i < size; i++) frame[icmp + 8 + i] = i & 0xff;
    put16(frame, icmp + 2, internetChecksum(frame, icmp, frame.length));
    this.sendIpv4(frame, mac, dst, 1);
  }

  /** Opens a TCP connection (SYN with MSS and no window scaling). */
  async connect(dst: number, dstPort: number, srcPort = 40000 + Math.floor(Math.random() * 20000)): Promise<TcpConnection> {
    const mac = await this.resolve(dst);
    const conn = new TcpConnection(this, mac, dst, dstPort, srcPort);
    this.connections.set(`${dst}:${dstPort}:${srcPort}`, conn);
    conn.sendSegment(TCP_SYN, new Uint8Array(0));
    await this.waitFor(() => conn.established, 5000, 'TCP handshake');
    return conn;
  }

  /** Resolves when `cond` holds (checked after each received frame). */
  async waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
      await this.until(50);
    }
  }

  /** Builds the IPv4 header in front of `frame[ETH+20…]` and sends it. */
  sendIpv4(frame: Uint8Array, dstMac: Uint8Array, dst: number, proto: number, hdr?: VnetHeader): void {
    frame.set(dstMac, 0);
    frame.set(this.mac, 6);
    put16(frame, 12, 0x0800);
    const ip = ETH;
    frame[ip] = 0x45;
    frame[ip + 1] = 0;
    put16(frame, ip + 2, Math.min(0xffff, frame.length - ETH));
    put16(frame, ip + 4, this.ipId++ & 0xffff);
    put16(frame, ip + 6, 0x4000); // DF
    frame[ip + 8] = 64;
    frame[ip + 9] = proto;
    put16(frame, ip + 10, 0);
    put32(frame, ip + 12, this.ip);
    put32(frame, ip + 16, dst);
    put16(frame, ip + 10, internetChecksum(frame, ip, ip + 20));
    this.port.send(frame, hdr);
  }

  private sendArp(op: number, dstMac: Uint8Array, targetIp: number, targetMac = new Uint8Array(6)): void {
    const f = new Uint8Array(60);
    f.set(dstMac, 0);
    f.set(this.mac, 6);
    put16(f, 12, 0x0806);
    put16(f, 14, 1);
    put16(f, 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    put16(f, 20, op);
    f.set(this.mac, 22);
    put32(f, 28, this.ip);
    f.set(targetMac, 32);
    put32(f, 38, targetIp);
    this.port.send(f);
  }

  private inputArp(f: Uint8Array): void {
    if (f.length < ETH + 28) return;
    const op = get16(f, 20);
    const senderMac = f.slice(22, 28);
    const senderIp = get32(f, 28);
    const targetIp = get32(f, 38);
    this.neighbours.set(senderIp, senderMac);
    if (op === 1 && targetIp === this.ip) {
      this.sendArp(2, senderMac, senderIp, senderMac);
      this.counters.arpRequestsAnswered++;
    }
  }

  private inputIpv4(f: Uint8Array, hdr: VnetHeader | null): void {
    const ip = ETH;
    const ihl = (f[ip]! & 15) * 4;
    if (f.length < ip + ihl) return;
    this.verify(verifyChecksum(f, ip, ip + ihl));
    const total = get16(f, ip + 2);
    // A GSO frame's IPv4 total length may not cover the whole frame; use the frame's end.
    const end = hdr && hdr.gsoType !== VIRTIO_NET_HDR_GSO_NONE ? f.length : Math.min(f.length, ip + total);
    const proto = f[ip + 9]!;
    const src = get32(f, ip + 12);
    const dst = get32(f, ip + 16);
    if (dst !== this.ip) return;
    const l4 = ip + ihl;
    if (proto === 1) {
      this.verify(verifyChecksum(f, l4, end));
      const type = f[l4]!;
      if (type === 8) {
        const reply = new Uint8Array(end);
        reply.set(f.subarray(0, end));
        reply[l4] = 0;
        put16(reply, l4 + 2, 0);
        put16(reply, l4 + 2, internetChecksum(reply, l4, end));
        this.sendIpv4(reply, f.slice(6, 12), src, 1);
        this.counters.echoRequestsAnswered++;
      } else if (type === 0) {
        this.counters.echoRepliesReceived++;
      }
    } else if (proto === 6) {
      const pseudo = pseudoHeaderSum(src, dst, 6, end - l4);
      if (hdr && hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        // Partial checksum (virtio 1.2 §5.1.6.4): the field holds the folded pseudo-header sum.
        this.verify(get16(f, l4 + 16) === (~foldChecksum(pseudo) & 0xffff));
      } else if (!(hdr && hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID)) {
        this.verify(verifyChecksum(f, l4, end, pseudo));
      }
      const dataOff = (f[l4 + 12]! >>> 4) * 4;
      if (hdr && hdr.gsoType !== VIRTIO_NET_HDR_GSO_NONE && end - l4 - dataOff > this.mtu - 40) this.counters.gsoFramesIn++;
      const key = `${src}:${get16(f, l4)}:${get16(f, l4 + 2)}`;
      this.connections.get(key)?.input(f, l4, end);
    }
  }

  private verify(ok: boolean): void {
    this.counters.checksumsVerified++;
    if (!ok) this.counters.checksumErrors++;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private until(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

export class TcpConnection {
  established = false;
  finReceived = false;
  private sndNxt: number;
  private sndUna: number;
  private rcvNxt = 0;
  private peerWindow = 0;
  private peerMss = 536;
  readonly received: Uint8Array[] = [];
  receivedBytes = 0;

  constructor(
    private readonly host: GuestHost,
    private readonly peerMac: Uint8Array,
    readonly peer: number,
    readonly peerPort: number,
    readonly localPort: number,
  ) {
    this.sndNxt = (Math.random() * 0x7fffffff) >>> 0;
    this.sndUna = this.sndNxt;
  }

  /** Takes the peer's MSS as given (no handshake: a connection that only sends raw segments). */
  assumePeerMss(mss: number): void {
    this.peerMss = mss;
  }

  /** The MSS: the peer's, capped by our MTU. */
  get mss(): number {
    return Math.min(this.peerMss, this.host.mtu - 40);
  }

  /**
   * Sends `data`, at most the peer's window at a time, waiting for ACKs. `tso`: each window's
   * worth goes out as ONE frame with a GSO header (the kernel segments); `csumOffload`: segments
   * leave with a partial checksum (NEEDS_CSUM) for the kernel to finish.
   */
  async write(data: Uint8Array, mode: { tso?: boolean; csumOffload?: boolean; maxFrame?: number } = {}): Promise<number> {
    let off = 0;
    let frames = 0;
    while (off < data.length) {
      await this.host.waitFor(() => this.inflight() === 0 && this.peerWindow > 0, 10000, 'TCP window');
      const budget = Math.min(this.peerWindow, data.length - off, mode.tso ? mode.maxFrame ?? 65000 : this.mss);
      if (mode.tso) {
        this.sendSegment(TCP_ACK | TCP_PSH, data.subarray(off, off + budget), 'tso');
        frames++;
        off += budget;
      } else {
        const end = off + budget;
        while (off < end) {
          const n = Math.min(this.mss, end - off);
          this.sendSegment(TCP_ACK | TCP_PSH, data.subarray(off, off + n), mode.csumOffload ? 'partial' : 'full');
          frames++;
          off += n;
        }
      }
    }
    await this.host.waitFor(() => this.inflight() === 0, 10000, 'final ACK');
    return frames;
  }

  /** Sends FIN and waits until the peer has acknowledged it. */
  async close(): Promise<void> {
    this.sendSegment(TCP_FIN | TCP_ACK, new Uint8Array(0));
    await this.host.waitFor(() => this.inflight() === 0, 5000, 'FIN acknowledged');
  }

  /** Waits for the peer's FIN (all its data received). */
  async waitEnd(timeoutMs = 20000): Promise<void> {
    await this.host.waitFor(() => this.finReceived, timeoutMs, 'peer FIN');
  }

  private inflight(): number {
    return (this.sndNxt - this.sndUna) >>> 0;
  }

  sendSegment(flags: number, payload: Uint8Array, csum: 'full' | 'partial' | 'tso' = 'full'): void {
    const optLen = flags & TCP_SYN ? 4 : 0;
    const l4 = ETH + 20;
    const tcpLen = 20 + optLen + payload.length;
    const f = new Uint8Array(l4 + tcpLen);
    put16(f, l4, this.localPort);
    put16(f, l4 + 2, this.peerPort);
    put32(f, l4 + 4, this.sndNxt);
    put32(f, l4 + 8, flags & TCP_ACK ? this.rcvNxt : 0);
    f[l4 + 12] = ((20 + optLen) / 4) << 4;
    f[l4 + 13] = flags;
    put16(f, l4 + 14, 65535);
    if (optLen) {
      f[l4 + 20] = 2; // MSS
      f[l4 + 21] = 4;
      put16(f, l4 + 22, this.host.mtu - 40);
    }
    f.set(payload, l4 + 20 + optLen);
    const pseudo = pseudoHeaderSum(this.host.ip, this.peer, 6, tcpLen);
    let hdr: VnetHeader | undefined;
    if (csum === 'full') {
      put16(f, l4 + 16, foldChecksum(checksumAdd(f, l4, f.length, pseudo)));
    } else {
      // CHECKSUM_PARTIAL: store the pseudo-header sum, tell the device where to finish it.
      put16(f, l4 + 16, ~foldChecksum(pseudo) & 0xffff);
      hdr = emptyVnetHeader();
      hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      hdr.csumStart = l4;
      hdr.csumOffset = 16;
      if (csum === 'tso' && payload.length > this.mss) {
        hdr.gsoType = VIRTIO_NET_HDR_GSO_TCPV4;
        hdr.gsoSize = this.mss;
        hdr.hdrLen = l4 + 20 + optLen;
      }
    }
    this.sndNxt = (this.sndNxt + payload.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
    this.host.sendIpv4(f, this.peerMac, this.peer, 6, hdr);
  }

  input(f: Uint8Array, l4: number, end: number): void {
    const flags = f[l4 + 13]!;
    const seq = get32(f, l4 + 4);
    const ack = get32(f, l4 + 8);
    const dataOff = (f[l4 + 12]! >>> 4) * 4;
    this.peerWindow = get16(f, l4 + 14);
    if (flags & TCP_SYN) {
      for (let o = l4 + 20; o < l4 + dataOff; ) {
        const kind = f[o]!;
        if (kind === 0) break;
        if (kind === 1) {
          o++;
          continue;
        }
        if (kind === 2) this.peerMss = get16(f, o + 2);
        o += f[o + 1]! || 1;
      }
      this.rcvNxt = (seq + 1) >>> 0;
      if (flags & TCP_ACK) this.sndUna = ack;
      this.established = true;
      this.sendSegment(TCP_ACK, new Uint8Array(0));
      return;
    }
    if (flags & TCP_ACK && ((ack - this.sndUna) | 0) > 0) this.sndUna = ack;
    const payload = f.subarray(l4 + dataOff, end);
    let advanced = false;
    if (payload.length > 0 && seq === this.rcvNxt) {
      this.received.push(payload.slice());
      this.receivedBytes += payload.length;
      this.rcvNxt = (this.rcvNxt + payload.length) >>> 0;
      advanced = true;
    }
    if (flags & TCP_FIN && ((seq + payload.length) >>> 0) === this.rcvNxt) {
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.finReceived = true;
      advanced = true;
    }
    if (advanced || payload.length > 0) this.sendSegment(TCP_ACK, new Uint8Array(0));
  }
}
