import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type Ipv4Address, type TcpOptions, type TcpPacket } from '@netbe/wire';
import { ByteQueue } from './byte-queue';
import type { SlirpHost } from './host';

/** RFC 9293 §3.3.2 states, plus the NAT's own "waiting for the host connect" before SYN-RECEIVED. */
export type TcpState =
  | 'HOST_CONNECTING' | 'SYN_SENT' | 'SYN_RECEIVED' | 'ESTABLISHED'
  | 'FIN_WAIT_1' | 'FIN_WAIT_2' | 'CLOSE_WAIT' | 'CLOSING' | 'LAST_ACK' | 'TIME_WAIT' | 'CLOSED';

/** What a connection needs from the NAT around it. */
export interface TcpEnv {
  readonly host: SlirpHost;
  /** Emits a segment to the guest; `payloadLen` bytes are copied from the send queue at `payloadOffset` (from SND.UNA). */
  emit(c: TcpConnection, flags: number, seq: number, ack: number, window: number, payloadOffset: number, payloadLen: number, options?: TcpOptions): void;
  /** The connection reached CLOSED and must be forgotten. */
  closed(c: TcpConnection, reason: string): void;
  /** A deadline the stack must wake up for. */
  arm(deadline: number): void;
  /**
   * False while the queue toward the guest is nearly full: the connection stops sending data and
   * is resumed ({@link TcpConnection.resume}) when the guest has taken frames (backpressure from
   * the device, instead of dropping segments and waiting for a retransmission timeout).
   */
  mayEmitData(c: TcpConnection): boolean;
}

const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
const seqDiff = (a: number, b: number): number => (a - b) | 0;

/** Receive buffer we advertise (the host socket's unwritten bytes count against it). */
export const TCP_RCV_BUF = 256 * 1024;
const OUR_WSCALE = 3; // 256 KiB fits in 65535 << 3
const SEND_HIGH_WATER = 512 * 1024;
const SEND_LOW_WATER = 128 * 1024;
const RTO_INITIAL = 1000; // RFC 6298 §2.1
const RTO_MIN = 200; // as Linux (RFC 6298 says 1 s; the link is virtual)
const RTO_MAX = 60_000;
const MAX_RETRANSMITS = 12;
const TIME_WAIT_MS = 10_000; // smoltcp's choice; 2·MSL would hold state for 4 minutes
const CONNECT_TIMEOUT_MS = 75_000;
const DELAYED_ACK_MS = 10;

/**
 * One NATed TCP connection, guest side: an RFC 9293 state machine whose other end is a host
 * socket. Data from the guest is accepted in order only (an out-of-order segment is dropped and
 * a duplicate ACK sent, so the guest retransmits — there is no reassembly queue); the receive
 * window is what the host socket has not yet written. Data from the host is kept until the guest
 * acknowledges it and retransmitted on an RFC 6298 timer (Karn's rule; go-back-N). Window scale
 * and MSS are negotiated; SACK and timestamps are not offered. No congestion control: the link
 * to the guest is virtual and the guest's window bounds what is in flight.
 */
export class TcpConnection {
  state: TcpState;
  /** Sequence space (RFC 9293 §3.3.1). */
  iss: number;
  sndUna: number;
  sndNxt: number;
  sndWnd = 0;
  sndWscale = 0;
  irs = 0;
  rcvNxt = 0;
  rcvWscale = 0;
  mss = 536;
  /** Bytes from SND.UNA on (sent-unacknowledged, then unsent). */
  readonly sendQueue = new ByteQueue();
  hostBuffered = 0;
  hostEnded = false;
  finSent = false;
  guestFin = false;
  hostPaused = false;
  private srtt = 0;
  private rttvar = 0;
  private rto = RTO_INITIAL;
  private rttSeq = -1;
  private rttStart = 0;
  private retransmits = 0;
  deadline = Infinity;
  /** Delayed ACK (RFC 1122 §4.2.3.2): in-order segments not yet acknowledged, and when to. */
  private ackPending = 0;
  ackDeadline = Infinity;

  constructor(
    private readonly env: TcpEnv,
    readonly handle: number,
    readonly guestIp: Ipv4Address,
    readonly guestPort: number,
    /** The address/port the guest sees for the other end. */
    readonly virtualIp: Ipv4Address,
    readonly virtualPort: number,
    readonly mtu: number,
    iss: number,
    initial: 'HOST_CONNECTING' | 'SYN_SENT',
    now: number,
  ) {
    this.state = initial;
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.setDeadline(now + (initial === 'HOST_CONNECTING' ? CONNECT_TIMEOUT_MS : this.rto));
    if (initial === 'SYN_SENT') this.sendSyn(false);
  }

  get key(): string {
    return `${this.guestIp}/${this.guestPort}/${this.virtualIp}/${this.virtualPort}`;
  }

  /** The guest's SYN that created this connection (state HOST_CONNECTING). */
  acceptSyn(seg: TcpPacket): void {
    this.irs = seg.seq;
    this.rcvNxt = (seg.seq + 1) >>> 0;
    this.applySynOptions(seg);
    this.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
  }

  // ---- host events ----

  hostConnected(now: number): void {
    if (this.state !== 'HOST_CONNECTING') return;
    this.state = 'SYN_RECEIVED';
    this.sendSyn(true);
    this.setDeadline(now + this.rto);
  }

  hostData(data: Uint8Array, now: number): void {
    if (this.hostEnded || this.state === 'CLOSED') return;
    this.sendQueue.push(data);
    if (!this.hostPaused && this.sendQueue.length >= SEND_HIGH_WATER) {
      this.hostPaused = true;
      this.env.host.tcpPause(this.handle, true);
    }
    this.trySend(now);
  }

  hostEnd(now: number): void {
    this.hostEnded = true;
    this.trySend(now);
  }

  hostDrained(buffered: number): void {
    const before = this.receiveWindow();
    this.hostBuffered = buffered;
    // Window update when it opens by at least one MSS from a small value (RFC 9293 §3.8.6.2.2 SWS avoidance).
    if (this.synchronized() && this.receiveWindow() - before >= this.mss && before < this.mss * 2) this.sendAck();
  }

  hostClosed(error: string | undefined, now: number): void {
    if (this.state === 'CLOSED' || this.state === 'TIME_WAIT') return;
    if (error !== undefined || this.state === 'HOST_CONNECTING' || this.state === 'SYN_SENT') {
      this.reset(error ?? 'host closed');
      return;
    }
    this.hostEnd(now);
  }

  // ---- guest segments ----

  input(seg: TcpPacket, now: number): void {
    const flags = seg.flags;
    const payload = seg.payload;
    if (this.state === 'HOST_CONNECTING') {
      if (flags & TCP_RST) this.abort('guest reset while connecting');
      return; // a retransmitted SYN: the SYN-ACK comes when the host connects
    }
    if (this.state === 'SYN_SENT') {
      if (flags & TCP_ACK && (seqLe(seg.ack, this.iss) || seqLt(this.sndNxt, seg.ack))) {
        if (!(flags & TCP_RST)) this.emitRst(seg.ack, 0, false);
        return;
      }
      if (flags & TCP_RST) {
        if (flags & TCP_ACK) this.abort('guest refused');
        return;
      }
      if (flags & TCP_SYN && flags & TCP_ACK) {
        this.irs = seg.seq;
        this.rcvNxt = (seg.seq + 1) >>> 0;
        this.applySynOptions(seg);
        this.sndUna = seg.ack;
        this.sndWnd = seg.window;
        this.state = 'ESTABLISHED';
        this.retransmits = 0;
        this.setDeadline(Infinity);
        this.sendAck();
        this.env.host.tcpPause(this.handle, false);
        this.trySend(now);
      }
      return;
    }
    // RFC 9293 §3.10.7.4: first, the sequence number check.
    const rcvWnd = this.receiveWindow();
    const segLen = payload.length + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
    const acceptable =
      segLen === 0
        ? rcvWnd === 0
          ? seg.seq === this.rcvNxt
          : seqLe(this.rcvNxt, seg.seq) && seqLt(seg.seq, (this.rcvNxt + rcvWnd) >>> 0)
        : rcvWnd > 0 && (seqInWindow(seg.seq, this.rcvNxt, rcvWnd) || seqInWindow((seg.seq + segLen - 1) >>> 0, this.rcvNxt, rcvWnd));
    if (!acceptable) {
      if (!(flags & TCP_RST)) this.sendAck();
      return;
    }
    if (flags & TCP_RST) {
      // RFC 5961 §3.2: only an exact match resets; otherwise a challenge ACK.
      if (seg.seq === this.rcvNxt) this.abort('guest reset');
      else this.sendAck();
      return;
    }
    if (flags & TCP_SYN) {
      this.sendAck(); // RFC 5961 §4: challenge ACK
      return;
    }
    if (!(flags & TCP_ACK)) return;
    // The ACK field.
    if (this.state === 'SYN_RECEIVED') {
      if (seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt)) {
        this.state = 'ESTABLISHED';
        this.sndUna = seg.ack;
        this.sndWnd = seg.window << this.sndWscale;
        this.retransmits = 0;
        this.setDeadline(Infinity);
      } else {
        this.emitRst(seg.ack, 0, false);
        return;
      }
    }
    if (seqLt(this.sndNxt, seg.ack)) {
      this.sendAck(); // acknowledges something not yet sent
      return;
    }
    if (seqLt(this.sndUna, seg.ack)) this.acknowledged(seg.ack, now);
    if (seqLe(this.sndUna, seg.ack)) this.sndWnd = seg.window << this.sndWscale;
    if (this.sndWnd === 0) this.retransmits = 0; // a live peer closing its window: keep probing
    const finAcked = this.finSent && seg.ack === this.sndNxt;
    if (finAcked) {
      if (this.state === 'FIN_WAIT_1') this.state = 'FIN_WAIT_2';
      else if (this.state === 'CLOSING') this.enterTimeWait(now);
      else if (this.state === 'LAST_ACK') {
        this.finish('closed');
        return;
      }
    }
    // Segment text.
    let sendAck = false;
    if (payload.length > 0 && (this.state === 'ESTABLISHED' || this.state === 'FIN_WAIT_1' || this.state === 'FIN_WAIT_2')) {
      let inOrder = false;
      if (seg.seq === this.rcvNxt || seqLt(seg.seq, this.rcvNxt)) {
        const skip = seqDiff(this.rcvNxt, seg.seq);
        const take = Math.min(payload.length - skip, rcvWnd);
        if (take > 0) {
          this.hostBuffered = this.env.host.tcpWrite(this.handle, payload.slice(skip, skip + take));
          this.rcvNxt = (this.rcvNxt + take) >>> 0;
          inOrder = take === payload.length - skip;
        }
      }
      // RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: ACK at least every second full-sized segment,
      // at once for PSH, anything out of order or beyond the window; otherwise within 10 ms.
      if (!inOrder || flags & TCP_PSH || ++this.ackPending >= 2) sendAck = true;
      else if (this.ackDeadline === Infinity) {
        this.ackDeadline = now + DELAYED_ACK_MS;
        this.env.arm(this.ackDeadline);
      }
    }
    // FIN, in order only.
    if (flags & TCP_FIN && (seg.seq + payload.length) >>> 0 === this.rcvNxt && !this.guestFin) {
      this.guestFin = true;
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.env.host.tcpShutdown(this.handle);
      sendAck = true;
      if (this.state === 'ESTABLISHED') this.state = 'CLOSE_WAIT';
      else if (this.state === 'FIN_WAIT_1') this.state = finAcked ? 'TIME_WAIT' : 'CLOSING';
      else if (this.state === 'FIN_WAIT_2') this.state = 'TIME_WAIT';
      if (this.state === 'TIME_WAIT') this.enterTimeWait(now);
    } else if (flags & TCP_FIN && this.guestFin) {
      sendAck = true; // retransmitted FIN
    }
    if (sendAck) this.sendAck();
    this.trySend(now);
  }

  /** The timer fired. */
  timeout(now: number): void {
    if (this.ackDeadline <= now) this.sendAck();
    if (now < this.deadline) return;
    switch (this.state) {
      case 'HOST_CONNECTING':
        this.reset('host connect timed out');
        return;
      case 'TIME_WAIT':
        this.finish('time-wait over');
        return;
      case 'CLOSED':
        return;
      default:
        break;
    }
    if (this.synchronized() && seqDiff(this.sndNxt, this.sndUna) === 0 && this.sendQueue.length === 0) {
      this.setDeadline(Infinity); // nothing to retransmit (a stale timer)
      return;
    }
    if (++this.retransmits > MAX_RETRANSMITS) {
      this.reset('too many retransmissions');
      return;
    }
    this.rto = Math.min(this.rto * 2, RTO_MAX); // RFC 6298 §5.5
    this.rttSeq = -1; // Karn
    if (this.state === 'SYN_SENT') {
      this.sendSyn(false);
    } else if (this.state === 'SYN_RECEIVED') {
      this.sendSyn(true);
    } else {
      // Go back to SND.UNA; with a zero window this sends a one-byte probe (RFC 9293 §3.8.6.1).
      this.sndNxt = this.sndUna;
      if (this.finSent) this.finSent = false;
      this.trySend(now, true);
    }
    this.setDeadline(now + this.rto);
  }

  /** The guest link has room again: send what the window allows. */
  resume(now: number): void {
    if (this.state !== 'CLOSED') this.trySend(now);
  }

  // ---- sending ----

  private trySend(now: number, probe = false): void {
    if (!this.synchronized() || this.state === 'TIME_WAIT') return;
    for (;;) {
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const unsent = this.sendQueue.length - inFlight;
      let room = this.sndWnd - inFlight;
      if (probe && room <= 0 && inFlight === 0 && unsent > 0) room = 1;
      const len = Math.min(this.mss, room, unsent);
      if (len > 0 && !this.env.mayEmitData(this)) break;
      if (len > 0) {
        const flags = TCP_ACK | (len === unsent ? TCP_PSH : 0);
        this.emit(flags, this.sndNxt, inFlight, len);
        if (this.rttSeq < 0) {
          this.rttSeq = this.sndNxt;
          this.rttStart = now;
        }
        this.sndNxt = (this.sndNxt + len) >>> 0;
        continue;
      }
      if (unsent === 0 && this.hostEnded && !this.finSent && (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT')) {
        this.emit(TCP_FIN | TCP_ACK, this.sndNxt, 0, 0);
        this.sndNxt = (this.sndNxt + 1) >>> 0;
        this.finSent = true;
        this.state = this.state === 'ESTABLISHED' ? 'FIN_WAIT_1' : 'LAST_ACK';
      } else if (unsent === 0 && this.hostEnded && !this.finSent && (this.state === 'FIN_WAIT_1' || this.state === 'CLOSING' || this.state === 'LAST_ACK')) {
        // Retransmitting the FIN after a timeout.
        this.emit(TCP_FIN | TCP_ACK, this.sndNxt, 0, 0);
        this.sndNxt = (this.sndNxt + 1) >>> 0;
        this.finSent = true;
      }
      break;
    }
    // RFC 6298 §5.1: run the timer while anything is outstanding; it doubles as the persist
    // timer while data waits on a zero window.
    const outstanding = seqDiff(this.sndNxt, this.sndUna) > 0;
    const waitingOnWindow = this.sendQueue.length > 0 && !outstanding;
    if ((outstanding || waitingOnWindow) && this.deadline === Infinity) this.setDeadline(now + this.rto);
  }

  private acknowledged(ack: number, now: number): void {
    const acked = seqDiff(ack, this.sndUna);
    const dataAcked = Math.min(acked, this.sendQueue.length);
    this.sendQueue.consume(dataAcked);
    this.sndUna = ack;
    this.retransmits = 0;
    if (this.rttSeq >= 0 && seqLt(this.rttSeq, ack)) {
      const r = now - this.rttStart; // RFC 6298 §2.2-2.3
      if (this.srtt === 0) {
        this.srtt = r;
        this.rttvar = r / 2;
      } else {
        this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
        this.srtt = 0.875 * this.srtt + 0.125 * r;
      }
      this.rto = Math.min(RTO_MAX, Math.max(RTO_MIN, this.srtt + Math.max(1, 4 * this.rttvar)));
      this.rttSeq = -1;
    }
    if (this.hostPaused && this.sendQueue.length <= SEND_LOW_WATER) {
      this.hostPaused = false;
      this.env.host.tcpPause(this.handle, false);
    }
    // RFC 6298 §5.2-5.3: stop the timer when all is acknowledged, else restart it.
    this.setDeadline(seqDiff(this.sndNxt, this.sndUna) > 0 ? now + this.rto : Infinity);
  }

  private sendSyn(withAck: boolean): void {
    const options: TcpOptions = { mss: Math.max(536, this.mtu - 40) };
    // RFC 7323 §2.2: offer window scale in a SYN-ACK only if the SYN carried it.
    if (!withAck || this.sndWscaleOffered) options.windowScale = OUR_WSCALE;
    this.emitRaw(TCP_SYN | (withAck ? TCP_ACK : 0), this.iss, withAck ? this.rcvNxt : 0, Math.min(this.receiveWindow(), 65535), 0, 0, options);
    this.sndNxt = (this.iss + 1) >>> 0;
  }

  private sndWscaleOffered = false;

  private applySynOptions(seg: TcpPacket): void {
    const o = seg.options;
    this.mss = Math.max(64, Math.min(o.mss ?? 536, this.mtu - 40));
    if (o.windowScale !== undefined) {
      this.sndWscaleOffered = true;
      this.sndWscale = o.windowScale;
      this.rcvWscale = OUR_WSCALE;
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
  }

  private receiveWindow(): number {
    const limit = this.rcvWscale ? TCP_RCV_BUF : Math.min(TCP_RCV_BUF, 65535);
    return Math.max(0, limit - this.hostBuffered);
  }

  private advertisedWindow(): number {
    return Math.min(this.receiveWindow() >>> this.rcvWscale, 65535);
  }

  sendAck(): void {
    this.emitRaw(TCP_ACK, this.sndNxt, this.rcvNxt, this.advertisedWindow(), 0, 0);
  }

  private emit(flags: number, seq: number, payloadOffset: number, payloadLen: number): void {
    this.emitRaw(flags, seq, this.rcvNxt, this.advertisedWindow(), payloadOffset, payloadLen);
  }

  private emitRaw(flags: number, seq: number, ack: number, window: number, payloadOffset: number, payloadLen: number, options?: TcpOptions): void {
    if (flags & TCP_ACK) {
      this.ackPending = 0; // every segment we send acknowledges RCV.NXT
      this.ackDeadline = Infinity;
    }
    this.env.emit(this, flags, seq, ack, window, payloadOffset, payloadLen, options);
  }

  private emitRst(seq: number, ack: number, withAck: boolean): void {
    this.env.emit(this, TCP_RST | (withAck ? TCP_ACK : 0), seq, ack, 0, 0, 0);
  }

  private synchronized(): boolean {
    return this.state !== 'HOST_CONNECTING' && this.state !== 'SYN_SENT' && this.state !== 'SYN_RECEIVED' && this.state !== 'CLOSED';
  }

  private enterTimeWait(now: number): void {
    this.state = 'TIME_WAIT';
    this.setDeadline(now + TIME_WAIT_MS);
    this.env.host.tcpClose(this.handle, false);
  }

  /** Sends RST to the guest and closes the host socket. */
  reset(reason: string): void {
    if (this.state === 'HOST_CONNECTING') this.emitRst(0, (this.irs + 1) >>> 0, true);
    else if (this.state !== 'CLOSED') this.emitRst(this.sndNxt, this.rcvNxt, true);
    this.env.host.tcpClose(this.handle, true);
    this.finish(reason);
  }

  /** Drops the connection without sending anything (TIME-WAIT reuse). */
  forget(reason: string): void {
    this.finish(reason);
  }

  /** The guest reset: close the host side abruptly. */
  private abort(reason: string): void {
    this.env.host.tcpClose(this.handle, true);
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.state === 'CLOSED') return;
    if (this.state !== 'TIME_WAIT') this.env.host.tcpClose(this.handle, false);
    this.state = 'CLOSED';
    this.sendQueue.clear();
    this.deadline = Infinity;
    this.ackDeadline = Infinity;
    this.env.closed(this, reason);
  }

  private setDeadline(t: number): void {
    this.deadline = t;
    if (t !== Infinity) this.env.arm(t);
  }
}

function seqInWindow(seq: number, start: number, size: number): boolean {
  const d = seqDiff(seq, start);
  return d >= 0 && d < size;
}
