import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type Ipv4Address, type TcpOptions, type TcpPacket } from '@netbe/wire';
import { ByteQueue } from './byte-queue';
import type { DropReason } from './counters';
import type { SlirpHost } from './host';
import { TcpReorderQueue } from './tcp-reorder-queue';
import { TcpSackScoreboard } from './tcp-sack-scoreboard';
import { seqAdd, seqDiff, seqInWindow, seqLe, seqLt } from './tcp-seq';

/** RFC 9293 §3.3.2 states, plus the NAT's own "waiting for the host connect" before SYN-RECEIVED. */
export type TcpState =
  | 'HOST_CONNECTING' | 'SYN_SENT' | 'SYN_RECEIVED' | 'ESTABLISHED'
  | 'FIN_WAIT_1' | 'FIN_WAIT_2' | 'CLOSE_WAIT' | 'CLOSING' | 'LAST_ACK' | 'TIME_WAIT' | 'CLOSED';

/** Per-NAT TCP event counts (monotonic). */
export interface TcpStats {
  timeouts: number;
  fastRetransmits: number;
  /** Segments retransmitted during recovery (SACK holes or NewReno partial ACKs), fast retransmits included. */
  recoveryRetransmits: number;
  outOfOrderSegments: number;
  challengeAcks: number;
  sackBlocksReceived: number;
}

/** What a connection needs from the NAT around it. */
export interface TcpEnv {
  readonly host: SlirpHost;
  readonly stats: TcpStats;
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
  /**
   * The most TCP bytes (header + payload) one segment toward the guest may carry: the MTU's, or
   * up to 64 KiB when the guest takes TSO frames (the link hands them over as GSO, cut at
   * {@link TcpConnection.segmentSize}).
   */
  segmentLimit(): number;
  /** Counts a drop. */
  drop(reason: DropReason): void;
  /** Takes `bytes` from the budget all connections' reorder queues share; false when exhausted. */
  reserveReorder(bytes: number): boolean;
  releaseReorder(bytes: number): void;
  /**
   * Host bytes waiting in send queues changed by `delta` (all connections share one budget, so
   * many connections cannot hold more than it between them).
   */
  sendQueued(delta: number): void;
  /** True while the shared send-queue budget is spent: `c` pauses its host reads and is told by {@link TcpConnection.budgetFreed}. */
  sendBudgetFull(c: TcpConnection): boolean;
  /**
   * Receive credit (bytes the guest may send that the host has not yet written: the offered
   * window plus the host socket's backlog) this connection holds changed by `delta`; all
   * connections share one budget.
   */
  receiveCreditHeld(delta: number): void;
  /** Receive credit not held by any connection; when short, `c` is told by {@link TcpConnection.budgetFreed}. */
  receiveCreditFree(c: TcpConnection): number;
  /** The credit one connection may grow to while others want it too: the budget over the connection count. */
  receiveCreditShare(): number;
  /** The host could not reach the destination: an ICMP destination unreachable (`code`) for the guest's SYN. */
  unreachable(c: TcpConnection, code: number): void;
}

/** Host connect errors reported to the guest as ICMP destination unreachable (RFC 1122 §4.2.3.9), with the code. */
const UNREACHABLE_CODES: Record<string, number> = { ENETUNREACH: 0, ENETDOWN: 0, EHOSTUNREACH: 1, EHOSTDOWN: 1 };

/** Receive buffer we advertise (the host socket's unwritten bytes count against it). */
export const TCP_RCV_BUF = 1024 * 1024;
/** Our window scale (RFC 7323 §2.3): 1 MiB fits in 65535 << 5. */
export const TCP_WSCALE = 5;
const OUR_WSCALE = TCP_WSCALE;
const SEND_HIGH_WATER = 2048 * 1024;
const SEND_LOW_WATER = 1024 * 1024;
/** While the guest's window is closed, the host socket pauses once this much waits (flow control both ways). */
const ZERO_WINDOW_HOLD = 64 * 1024;
const RTO_INITIAL = 1000; // RFC 6298 §2.1
const RTO_MIN = 200; // as Linux (RFC 6298 §2.4 says 1 s; the link is virtual)
const RTO_MAX = 60_000; // RFC 6298 §2.5
const MAX_RETRANSMITS = 12;
const TIME_WAIT_MS = 10_000; // smoltcp's choice; 2·MSL would hold state for 4 minutes
const CONNECT_TIMEOUT_MS = 75_000;
const DELAYED_ACK_MS = 10;
const DUP_THRESH = 3; // RFC 5681 §3.2
const CHALLENGE_ACK_LIMIT = 100;
const INITIAL_WINDOW_SEGMENTS = 10; // RFC 6928
const REORDER_MAX_BLOCKS = 1024; // a full 1 MiB window of 1 KiB segments
const TS_OPTION_LEN = 12; // timestamp (10) + 2 NOPs, RFC 7323 Appendix A

/**
 * One NATed TCP connection, guest side: an RFC 9293 state machine whose other end is a host
 * socket. Window scaling, timestamps (RTTM + PAWS, RFC 7323) and SACK (RFC 2018) are negotiated
 * when the guest offers them. Guest data beyond a hole waits in a bounded reorder queue and is
 * reported in SACK blocks. Host data is kept until the guest acknowledges it; losses are repaired
 * by fast retransmit / recovery (RFC 5681, NewReno RFC 6582, SACK-based holes after RFC 6675) and
 * an RFC 6298 timer (Karn, backoff). Congestion window as RFC 5681 (IW10, RFC 6928). The receive
 * window is what the host socket has not yet written; the host socket pauses when the send queue
 * is long.
 */
export class TcpConnection {
  state: TcpState;
  /** Sequence space (RFC 9293 §3.3.1). */
  iss: number;
  sndUna: number;
  sndNxt: number;
  /** The highest sequence number sent so far (SND.NXT moves back on a timeout; this does not). */
  sndMax: number;
  sndWnd = 0;
  /** The largest window the guest offered (RFC 5961 §5.2 ACK check). */
  private maxSndWnd = 0;
  sndWscale = 0;
  irs = 0;
  rcvNxt = 0;
  rcvWscale = 0;
  mss = 536;
  /** Bytes from SND.UNA on (sent-unacknowledged, then unsent); acknowledged chunks go back to the host adapter. */
  readonly sendQueue: ByteQueue;
  hostBuffered = 0;
  /** The right edge of the window last offered to the guest (RCV.NXT + RCV.WND), valid once `rcvEdgeSet`. */
  private rcvEdge = 0;
  private rcvEdgeSet = false;
  /** Receive credit held from the shared budget: hostBuffered + what the offered window still allows. */
  private creditHeld = 0;
  hostEnded = false;
  finSent = false;
  guestFin = false;
  hostPaused = false;
  /** Negotiated options. */
  sackOk = false;
  tsOk = false;
  private tsRecent = 0;
  private lastAckSent = 0;
  private readonly tsOffset: number;
  /** Guest data past a hole; SACK blocks come from it. */
  readonly reorder = new TcpReorderQueue(REORDER_MAX_BLOCKS);
  /** The guest's FIN seen beyond a hole (its sequence number), or -1. */
  private pendingFin = -1;
  /** What the guest reported holding (SACK). */
  readonly scoreboard = new TcpSackScoreboard();
  /** Congestion control (RFC 5681). */
  cwnd = 0;
  ssthresh = 0x7fffffff;
  private dupAcks = 0;
  inRecovery = false;
  private recover: number;
  /** Next sequence to consider for retransmission during recovery (RFC 6675 HighRxt). */
  private rtxNext = 0;
  srtt = 0;
  private rttvar = 0;
  rto = RTO_INITIAL;
  /** The RTO before backoff (RFC 6298 §5.5 doubles `rto`; this is what the samples say). */
  private rtoBase = RTO_INITIAL;
  /** Zero-window probes are outstanding (the persist timer, RFC 9293 §3.8.6.1). */
  private probing = false;
  private rttSeq = -1;
  private rttStart = 0;
  private retransmits = 0;
  deadline = Infinity;
  /** Delayed ACK (RFC 1122 §4.2.3.2): in-order segments not yet acknowledged, and when to. */
  private ackPending = 0;
  ackDeadline = Infinity;
  /** Reused for every emitted segment's options (no per-segment allocation). */
  private readonly opts: TcpOptions = {};
  private readonly tsScratch = { value: 0, echo: 0 };
  private readonly sackPairs: Array<[number, number]> = [[0, 0], [0, 0], [0, 0], [0, 0]];
  private readonly sackOut: Array<[number, number]> = [];
  private readonly sackAll: Array<[number, number]> = [];
  private now = 0;

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
    const done = env.host.tcpDataDone;
    this.sendQueue = new ByteQueue(done ? (chunk) => done.call(env.host, chunk) : undefined);
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.recover = this.iss;
    this.tsOffset = Math.imul(this.iss, 0x9e3779b1) >>> 0; // RFC 7323 §5.4: a per-connection offset
    this.now = now;
    this.setDeadline(now + (initial === 'HOST_CONNECTING' ? CONNECT_TIMEOUT_MS : this.rto));
    if (initial === 'SYN_SENT') this.sendSyn(false);
  }

  get key(): string {
    return `${this.guestIp}/${this.guestPort}/${this.virtualIp}/${this.virtualPort}`;
  }

  /** True while the handshake is not complete (counts against the half-open limit). */
  get halfOpen(): boolean {
    return this.state === 'HOST_CONNECTING' || this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED';
  }

  /** The guest's SYN that created this connection (state HOST_CONNECTING). */
  acceptSyn(seg: TcpPacket): void {
    this.irs = seg.seq;
    this.rcvNxt = (seg.seq + 1) >>> 0;
    this.applySynOptions(seg.options);
    this.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    this.maxSndWnd = this.sndWnd;
  }

  // ---- host events ----

  hostConnected(now: number): void {
    if (this.state !== 'HOST_CONNECTING') return;
    this.now = now;
    this.state = 'SYN_RECEIVED';
    this.sendSyn(true);
    this.setDeadline(now + this.rto);
  }

  hostData(data: Uint8Array, now: number): void {
    if (this.hostEnded || this.state === 'CLOSED') return;
    this.now = now;
    this.sendQueue.push(data);
    this.env.sendQueued(data.length);
    this.trySend(now);
    this.updateHostPause();
  }

  hostEnd(now: number): void {
    this.now = now;
    this.hostEnded = true;
    this.trySend(now);
  }

  hostDrained(buffered: number): void {
    const before = this.receiveWindow();
    this.hostBuffered = buffered;
    this.syncCredit();
    // Window update when it opens by at least one MSS from a small value (RFC 9293 §3.8.6.2.2 SWS avoidance).
    if (this.synchronized() && this.receiveWindow() - before >= this.mss && before < this.mss * 2) this.sendAck();
  }

  hostClosed(error: string | undefined, now: number): void {
    if (this.state === 'CLOSED' || this.state === 'TIME_WAIT') return;
    const code = error !== undefined ? UNREACHABLE_CODES[error] : undefined;
    if (this.state === 'HOST_CONNECTING' && code !== undefined) {
      this.env.unreachable(this, code);
      this.closeHost(true);
      this.finish(error!);
      return;
    }
    if (error !== undefined || this.state === 'HOST_CONNECTING' || this.state === 'SYN_SENT') {
      this.reset(error ?? 'host closed');
      return;
    }
    this.hostEnd(now);
  }

  // ---- guest segments ----

  input(seg: TcpPacket, now: number): void {
    this.now = now;
    const flags = seg.flags;
    const payload = seg.payload;
    if (this.state === 'HOST_CONNECTING') {
      if (flags & TCP_RST) {
        // RFC 9293 §3.10.7.3 / RFC 5961 §3.2: only a RST at exactly RCV.NXT.
        if (seg.seq === this.rcvNxt) this.abort('guest reset while connecting');
        else this.env.drop('tcp-out-of-window');
      }
      return; // a retransmitted SYN: the SYN-ACK comes when the host connects
    }
    if (this.state === 'SYN_SENT') {
      if (flags & TCP_ACK && (seqLe(seg.ack, this.iss) || seqLt(this.sndNxt, seg.ack))) {
        if (!(flags & TCP_RST)) this.emitRst(seg.ack, 0, false);
        this.env.drop('tcp-bad-ack');
        return;
      }
      if (flags & TCP_RST) {
        if (flags & TCP_ACK) this.abort('guest refused');
        return;
      }
      if (flags & TCP_SYN && flags & TCP_ACK) {
        this.irs = seg.seq;
        this.rcvNxt = (seg.seq + 1) >>> 0;
        const o = seg.options;
        this.applySynOptions(o);
        if (this.tsOk && o.timestamp) this.tsRecent = o.timestamp.value;
        this.sndUna = seg.ack;
        this.sndWnd = seg.window;
        this.maxSndWnd = this.sndWnd;
        this.state = 'ESTABLISHED';
        this.retransmits = 0;
        this.setDeadline(Infinity);
        this.sendAck();
        this.env.host.tcpPause(this.handle, false);
        this.trySend(now);
      }
      return;
    }
    const options = seg.headerLen > 20 ? seg.options : undefined;
    const ts = this.tsOk ? options?.timestamp : undefined;
    // RFC 7323 §5.3: PAWS — an older timestamp is a duplicate from an earlier incarnation.
    if (ts && !(flags & TCP_RST) && seqLt(ts.value, this.tsRecent)) {
      this.env.drop('tcp-paws');
      this.sendAck();
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
      this.env.drop('tcp-out-of-window');
      if (!(flags & TCP_RST)) this.sendAck();
      return;
    }
    if (flags & TCP_RST) {
      // RFC 5961 §3.2: only an exact match resets; otherwise a challenge ACK.
      if (seg.seq === this.rcvNxt) this.abort('guest reset');
      else this.challengeAck();
      return;
    }
    if (flags & TCP_SYN) {
      this.challengeAck(); // RFC 5961 §4
      return;
    }
    if (!(flags & TCP_ACK)) return;
    // RFC 7323 §4.3: remember the timestamp to echo (segments at or before the last ACK we sent).
    if (ts && seqLe(seg.seq, this.lastAckSent)) this.tsRecent = ts.value;
    // The ACK field.
    if (this.state === 'SYN_RECEIVED') {
      if (seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt)) {
        this.state = 'ESTABLISHED';
        this.sndUna = seg.ack;
        this.sndWnd = seg.window << this.sndWscale;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.retransmits = 0;
        this.setDeadline(Infinity);
      } else {
        this.emitRst(seg.ack, 0, false);
        this.env.drop('tcp-bad-ack');
        return;
      }
    }
    if (seqLt(this.sndMax, seg.ack)) {
      this.env.drop('tcp-bad-ack');
      this.sendAck(); // acknowledges something not yet sent
      return;
    }
    // RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND is an injection attempt.
    if (seqLt(seg.ack, (this.sndUna - this.maxSndWnd - 1) >>> 0)) {
      this.env.drop('tcp-bad-ack');
      this.challengeAck();
      return;
    }
    const window = seg.window << this.sndWscale;
    let newSack = false;
    if (this.sackOk && options?.sack) {
      this.env.stats.sackBlocksReceived += options.sack.length;
      for (const [l, r] of options.sack) if (this.scoreboard.add(l, r, seg.ack, this.sndMax)) newSack = true;
    }
    if (seqLt(this.sndUna, seg.ack)) {
      this.acknowledged(seg.ack, ts ? ts.echo : -1, now);
    } else if (seg.ack === this.sndUna && seqDiff(this.sndNxt, this.sndUna) > 0 && payload.length === 0 && !(flags & TCP_FIN) && (window === this.sndWnd || newSack)) {
      this.duplicateAck();
    }
    if (seqLe(this.sndUna, seg.ack)) {
      if (this.sndWnd === 0 && window > 0 && this.probing) {
        // The window reopened after zero-window probes: resend from SND.UNA at once, with the
        // un-backed-off RTO (probes are not losses).
        this.probing = false;
        this.sndNxt = this.sndUna;
        this.rto = this.rtoBase;
        this.retransmits = 0;
        this.setDeadline(Infinity);
      }
      this.sndWnd = window;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
    }
    if (this.sndWnd === 0) this.retransmits = 0; // a live peer closing its window: keep probing
    this.updateHostPause();
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
      if (seqLe(seg.seq, this.rcvNxt)) {
        const skip = seqDiff(this.rcvNxt, seg.seq);
        const take = Math.min(payload.length - skip, rcvWnd);
        if (take > 0) {
          this.deliver(payload.subarray(skip, skip + take));
          inOrder = take === payload.length - skip;
          if (this.reorder.blockCount > 0) {
            this.drainReorder();
            inOrder = false; // RFC 5681 §4.2: ACK at once when a hole is filled
          }
        }
      } else {
        // Beyond a hole: keep what fits in the window (RFC 9293 §3.10.7.4 allows queueing).
        this.env.stats.outOfOrderSegments++;
        const room = rcvWnd - seqDiff(seg.seq, this.rcvNxt);
        if (room > 0) this.queueOutOfOrder(seg.seq, room < payload.length ? payload.subarray(0, room) : payload);
      }
      // RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: ACK at least every second full-sized segment,
      // at once for PSH, anything out of order or beyond the window; otherwise within 10 ms.
      if (!inOrder || flags & TCP_PSH || ++this.ackPending >= 2) sendAck = true;
      else if (this.ackDeadline === Infinity) {
        this.ackDeadline = now + DELAYED_ACK_MS;
        this.env.arm(this.ackDeadline);
      }
    }
    // FIN: in order, or remembered until the hole before it is filled.
    if (flags & TCP_FIN && !this.guestFin) {
      const finSeq = (seg.seq + payload.length) >>> 0;
      if (finSeq === this.rcvNxt) this.guestFinReceived(finAcked, now);
      else if (seqLt(this.rcvNxt, finSeq)) this.pendingFin = finSeq;
      sendAck = true;
    } else if (flags & TCP_FIN && this.guestFin) {
      sendAck = true; // retransmitted FIN
    } else if (this.pendingFin >= 0 && this.pendingFin === this.rcvNxt && !this.guestFin) {
      this.guestFinReceived(finAcked, now);
      sendAck = true;
    }
    if (sendAck && this.state !== 'CLOSED') this.sendAck();
    if (this.state !== 'CLOSED') this.trySend(now);
  }

  private guestFinReceived(finAcked: boolean, now: number): void {
    this.guestFin = true;
    this.pendingFin = -1;
    this.rcvNxt = (this.rcvNxt + 1) >>> 0;
    this.env.host.tcpShutdown(this.handle);
    if (this.state === 'ESTABLISHED') this.state = 'CLOSE_WAIT';
    else if (this.state === 'FIN_WAIT_1') this.state = finAcked ? 'TIME_WAIT' : 'CLOSING';
    else if (this.state === 'FIN_WAIT_2') this.state = 'TIME_WAIT';
    if (this.state === 'TIME_WAIT') this.enterTimeWait(now);
  }

  private deliver(bytes: Uint8Array): void {
    // A view of the guest's frame: the host copies what it cannot write at once.
    this.hostBuffered = this.env.host.tcpWrite(this.handle, bytes);
    this.rcvNxt = (this.rcvNxt + bytes.length) >>> 0;
    this.syncCredit();
  }

  private drainReorder(): void {
    const before = this.reorder.bytes;
    for (let d = this.reorder.takeInOrder(this.rcvNxt); d; d = this.reorder.takeInOrder(this.rcvNxt)) {
      this.hostBuffered = this.env.host.tcpWrite(this.handle, d);
      this.rcvNxt = (this.rcvNxt + d.length) >>> 0;
    }
    this.syncCredit();
    this.env.releaseReorder(before - this.reorder.bytes);
  }

  private queueOutOfOrder(seq: number, data: Uint8Array): void {
    if (!this.env.reserveReorder(data.length)) {
      this.env.drop('tcp-reorder-full');
      return;
    }
    const stored = this.reorder.insert(seq, data, this.rcvNxt);
    this.env.releaseReorder(data.length - Math.max(0, stored));
    if (stored < 0) this.env.drop('tcp-reorder-full');
  }

  /** The timer fired. */
  timeout(now: number): void {
    this.now = now;
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
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      this.probing = this.sndWnd === 0;
      if (inFlight > 0 && !this.probing) {
        this.env.stats.timeouts++;
        // RFC 5681 §3.1 (equation 4) and loss window; RFC 6582 §3.2 step 4: no fast retransmit for what was in flight.
        this.ssthresh = Math.max(inFlight >> 1, 2 * this.mss);
        this.cwnd = this.mss;
        this.recover = this.sndNxt;
      }
      this.inRecovery = false;
      this.dupAcks = 0;
      if (this.retransmits >= 2) this.scoreboard.clear(); // RFC 2018 §8: the receiver may have reneged
      // Go back to SND.UNA (skipping what the guest SACKed); with a zero window this sends a
      // one-byte probe (RFC 9293 §3.8.6.1).
      this.sndNxt = this.sndUna;
      this.rtxNext = this.sndUna;
      if (this.finSent) this.finSent = false;
      this.trySend(now, true);
    }
    this.setDeadline(now + this.rto);
  }

  /** The guest link has room again: send what the window allows. */
  resume(now: number): void {
    if (this.state !== 'CLOSED') this.trySend(now);
  }

  /**
   * Host reads pause when the send queue is long, or when the guest's window is closed and some
   * data already waits; they resume below the low-water mark with the window open.
   */
  private updateHostPause(): void {
    const q = this.sendQueue.length;
    // With jumbo MSS (MTU 65520) the marks scale so that 32 / 16 segments still fit.
    const high = Math.max(SEND_HIGH_WATER, 32 * this.mss);
    const low = Math.max(SEND_LOW_WATER, 16 * this.mss);
    const budgetFull = this.env.sendBudgetFull(this);
    if (!this.hostPaused && (q >= high || budgetFull || (this.sndWnd === 0 && this.synchronized() && q >= ZERO_WINDOW_HOLD))) {
      this.hostPaused = true;
      this.env.host.tcpPause(this.handle, true);
    } else if (this.hostPaused && q <= low && this.sndWnd > 0 && !budgetFull) {
      this.hostPaused = false;
      this.env.host.tcpPause(this.handle, false);
    }
  }

  // ---- congestion control ----

  private duplicateAck(): void {
    this.dupAcks++;
    if (this.inRecovery) return; // NewReno inflation is the dupAcks term in pipe()
    const lost = this.dupAcks >= DUP_THRESH || (this.sackOk && this.scoreboard.sacked >= DUP_THRESH * this.mss);
    // RFC 6582 §3.2 step 2: not again for losses from before the last recovery/timeout.
    if (!lost || seqLt(this.sndUna, this.recover)) return;
    const inFlight = seqDiff(this.sndNxt, this.sndUna);
    this.ssthresh = Math.max(inFlight >> 1, 2 * this.mss); // RFC 5681 §3.2 step 2
    this.cwnd = this.ssthresh;
    this.recover = this.sndNxt;
    this.inRecovery = true;
    this.rtxNext = this.sndUna;
    this.env.stats.fastRetransmits++;
    this.retransmitAt(this.sndUna); // RFC 5681 §3.2 step 3: at once, regardless of cwnd
  }

  /** Bytes believed to be in the network (RFC 6675 §4 "pipe", approximated). */
  private pipe(): number {
    const inFlight = seqDiff(this.sndNxt, this.sndUna);
    if (!this.inRecovery) return inFlight - this.scoreboard.sacked;
    if (!this.sackOk) return Math.max(0, inFlight - this.dupAcks * this.mss);
    // Holes above the retransmission point and below the highest SACKed byte are lost, not in flight.
    const highest = this.scoreboard.highest(this.sndUna);
    const from = seqLt(this.rtxNext, this.sndUna) ? this.sndUna : this.rtxNext;
    const lost = seqLt(from, highest) ? seqDiff(highest, from) - this.scoreboard.sackedFrom(from) : 0;
    return Math.max(0, inFlight - this.scoreboard.sacked - lost);
  }

  /** Retransmits from `seq`: one segment, or up to `allowance` bytes in whole segments (TSO). */
  private retransmitAt(seq: number, allowance = 0): number {
    const offset = seqDiff(seq, this.sndUna);
    const inFlight = seqDiff(this.sndNxt, this.sndUna);
    const dataInFlight = Math.min(inFlight, this.sendQueue.length);
    const smss = this.sendMss();
    // Without SACK the guest's holdings past the hole are unknown: one segment (NewReno).
    const most = this.sackOk ? Math.max(smss, Math.min(this.maxSegment(), allowance - (allowance % smss))) : smss;
    let len = Math.min(most, dataInFlight - offset);
    if (this.sackOk) {
      const hole = this.scoreboard.holeLength(seq);
      if (hole > 0) len = Math.min(len, hole);
    }
    if (len <= 0) return 0;
    this.env.stats.recoveryRetransmits++;
    if (this.rttSeq >= 0 && seqLe(seq, this.rttSeq)) this.rttSeq = -1; // Karn
    this.emit(TCP_ACK, seq, offset, len);
    this.rtxNext = seqAdd(seq, len);
    return len;
  }

  // ---- sending ----

  /** Payload bytes per segment: the MSS less the options every segment carries (RFC 6691). */
  private sendMss(): number {
    return Math.max(1, this.mss - (this.tsOk ? TS_OPTION_LEN : 0));
  }

  /** Payload bytes per segment on the wire (a TSO segment toward the guest is cut into these). */
  get segmentSize(): number {
    return this.sendMss();
  }

  /**
   * Payload bytes one emitted segment may carry: one MSS, or as many whole MSS-sized segments as
   * the link's limit allows when the guest takes TSO (congestion control still counts bytes).
   */
  private maxSegment(): number {
    const smss = this.sendMss();
    const room = this.env.segmentLimit() - 20 - (this.tsOk ? TS_OPTION_LEN : 0);
    return room >= 2 * smss ? room - (room % smss) : smss;
  }

  private trySend(now: number, probe = false): void {
    if (!this.synchronized() || this.state === 'TIME_WAIT') return;
    const smss = this.sendMss();
    const maxSeg = this.maxSegment();
    // Recovery: retransmit holes first while the pipe allows (RFC 6675 §5 NextSeg rule 1; NewReno partial ACK).
    while (this.inRecovery) {
      let seq = seqLt(this.rtxNext, this.sndUna) ? this.sndUna : this.rtxNext;
      if (this.sackOk) {
        seq = this.scoreboard.skipSacked(seq);
        if (!seqLt(seq, this.scoreboard.highest(this.sndUna)) || !seqLt(seq, this.recover)) break;
      } else if (seq !== this.sndUna) break;
      const allowance = this.cwnd - this.pipe();
      if (allowance < smss && this.rtxNext !== this.sndUna) break;
      if (!this.env.mayEmitData(this)) return;
      if (this.retransmitAt(seq, allowance) === 0) break;
    }
    for (;;) {
      if (!this.scoreboard.empty) this.sndNxt = this.scoreboard.skipSacked(this.sndNxt); // go-back-N after a timeout
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const unsent = this.sendQueue.length - inFlight;
      let room = this.sndWnd - inFlight;
      if (probe && room <= 0 && inFlight === 0 && unsent > 0) room = 1;
      let len = Math.min(maxSeg, room, unsent);
      if (len > smss && !this.scoreboard.empty) {
        const hole = this.scoreboard.holeLength(this.sndNxt); // a TSO segment stops where the guest's SACKed data starts
        if (hole > 0) len = Math.min(len, Math.max(hole, smss));
      }
      if (len > 0) {
        const pipe = this.pipe();
        if (pipe > 0) {
          const allowance = this.cwnd + (this.inRecovery && !this.sackOk ? this.dupAcks * this.mss : 0) - pipe;
          if (len > allowance) {
            // A TSO segment shrinks to the whole segments the window allows (one segment: as before).
            if (len <= smss || allowance < smss) break;
            // TSO deferral (as Linux's tcp_tso_should_defer): while data is in flight, a sliver of
            // the congestion window waits for the ACKs coming anyway, so frames stay large.
            if (!this.inRecovery && allowance < Math.min(this.cwnd, this.sndWnd) / 3) break;
            len = allowance - (allowance % smss);
          }
        }
        if (!this.env.mayEmitData(this)) break;
        const flags = TCP_ACK | (len === unsent ? TCP_PSH : 0);
        this.emit(flags, this.sndNxt, inFlight, len);
        if (this.rttSeq < 0 && !this.tsOk) {
          this.rttSeq = this.sndNxt;
          this.rttStart = now;
        }
        this.sndNxt = (this.sndNxt + len) >>> 0;
        if (seqLt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
        continue;
      }
      if (unsent <= 0 && this.hostEnded && !this.finSent && (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT')) {
        this.emit(TCP_FIN | TCP_ACK, this.sndNxt, 0, 0);
        this.sndNxt = (this.sndNxt + 1) >>> 0;
        if (seqLt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
        this.finSent = true;
        this.state = this.state === 'ESTABLISHED' ? 'FIN_WAIT_1' : 'LAST_ACK';
      } else if (unsent <= 0 && this.hostEnded && !this.finSent && (this.state === 'FIN_WAIT_1' || this.state === 'CLOSING' || this.state === 'LAST_ACK')) {
        // Retransmitting the FIN after a timeout.
        this.emit(TCP_FIN | TCP_ACK, this.sndNxt, 0, 0);
        this.sndNxt = (this.sndNxt + 1) >>> 0;
        if (seqLt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
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

  private acknowledged(ack: number, tsEcho: number, now: number): void {
    const acked = seqDiff(ack, this.sndUna);
    const dataAcked = Math.min(acked, this.sendQueue.length);
    this.sendQueue.consume(dataAcked);
    this.env.sendQueued(-dataAcked);
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) {
      // After a go-back-N the guest may acknowledge past our resend point (it had the data), the FIN included.
      this.sndNxt = ack;
      if (this.hostEnded && ack === this.sndMax && this.sendQueue.length === 0 && (this.state === 'FIN_WAIT_1' || this.state === 'CLOSING' || this.state === 'LAST_ACK')) this.finSent = true;
    }
    this.scoreboard.ackTo(ack);
    this.retransmits = 0;
    // RTT sample (RFC 6298 §2.2-2.3): from the echoed timestamp (RFC 7323 §4.1), else one timed segment (Karn).
    let r = -1;
    if (tsEcho >= 0 && this.tsOk) {
      const sample = ((now >>> 0) + this.tsOffset - tsEcho) >>> 0;
      if (sample < 0x7fffffff) r = sample;
    } else if (this.rttSeq >= 0 && seqLt(this.rttSeq, ack)) {
      r = now - this.rttStart;
      this.rttSeq = -1;
    }
    if (r >= 0) {
      if (this.srtt === 0) {
        this.srtt = Math.max(r, 0.1);
        this.rttvar = r / 2;
      } else {
        this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
        this.srtt = 0.875 * this.srtt + 0.125 * r;
      }
      this.rto = Math.min(RTO_MAX, Math.max(RTO_MIN, this.srtt + Math.max(1, 4 * this.rttvar)));
      this.rtoBase = this.rto;
    }
    // Congestion control.
    if (this.inRecovery) {
      if (seqLe(this.recover, ack)) {
        // RFC 6582 §3.2 step 3 (full acknowledgment): deflate.
        this.inRecovery = false;
        this.cwnd = Math.min(this.ssthresh, Math.max(seqDiff(this.sndNxt, this.sndUna), this.mss) + this.mss);
        this.dupAcks = 0;
      } else if (!this.sackOk) {
        // Partial acknowledgment (RFC 6582 §3.2 step 5): retransmit the next hole at once.
        this.dupAcks = 0;
        this.rtxNext = this.sndUna;
      }
    } else {
      this.dupAcks = 0;
      // RFC 5681 §3.1: slow start (RFC 3465 L = 2·SMSS), then congestion avoidance.
      if (this.cwnd < this.ssthresh) this.cwnd += Math.min(dataAcked, 2 * this.mss);
      else this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd));
    }
    // RFC 6298 §5.2-5.3: stop the timer when all is acknowledged, else restart it.
    this.setDeadline(seqDiff(this.sndNxt, this.sndUna) > 0 ? now + this.rto : Infinity);
  }

  private sendSyn(withAck: boolean): void {
    const o = this.opts;
    o.mss = Math.max(536, this.mtu - 40);
    // RFC 7323 §1.3 / RFC 2018 §2: in a SYN-ACK, only what the SYN offered.
    o.windowScale = !withAck || this.sndWscaleOffered ? OUR_WSCALE : undefined;
    o.sackPermitted = !withAck || this.sackOk ? true : undefined;
    o.timestamp = !withAck || this.tsOk ? this.timestampOption() : undefined;
    o.sack = undefined;
    const window = Math.min(this.receiveWindow(), 65535);
    if (withAck) this.offered(window);
    this.emitRaw(TCP_SYN | (withAck ? TCP_ACK : 0), this.iss, withAck ? this.rcvNxt : 0, window, 0, 0, o);
    o.mss = undefined;
    o.windowScale = undefined;
    o.sackPermitted = undefined;
    this.sndNxt = (this.iss + 1) >>> 0;
    this.sndMax = this.sndNxt;
  }

  private sndWscaleOffered = false;

  private applySynOptions(o: TcpOptions): void {
    this.mss = Math.max(64, Math.min(o.mss ?? 536, this.mtu - 40));
    if (o.windowScale !== undefined) {
      this.sndWscaleOffered = true;
      this.sndWscale = o.windowScale;
      this.rcvWscale = OUR_WSCALE;
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.sackOk = o.sackPermitted === true;
    this.tsOk = o.timestamp !== undefined;
    if (this.tsOk) this.tsRecent = o.timestamp!.value;
    this.cwnd = INITIAL_WINDOW_SEGMENTS * this.mss;
  }

  /**
   * RCV.WND: the receive buffer less the host socket's backlog, and no more than this
   * connection's open credit plus what it may still take from the shared budget: what is free,
   * up to its fair share (so the window's right edge never moves left, RFC 9293 §3.8.6.2.2, all
   * guests' windows together stay in the budget, and early connections cannot starve later ones).
   */
  private receiveWindow(): number {
    const limit = this.rcvWscale ? TCP_RCV_BUF : Math.min(TCP_RCV_BUF, 65535);
    const wanted = Math.max(0, limit - this.hostBuffered);
    const open = this.openCredit();
    const growth = Math.min(this.env.receiveCreditFree(this), Math.max(0, this.env.receiveCreditShare() - this.hostBuffered - open));
    return Math.min(wanted, open + growth);
  }

  /** What the window last offered still lets the guest send. */
  private openCredit(): number {
    return this.rcvEdgeSet ? Math.max(0, seqDiff(this.rcvEdge, this.rcvNxt)) : 0;
  }

  private advertisedWindow(): number {
    const scaled = Math.min(this.receiveWindow() >>> this.rcvWscale, 65535);
    this.offered(scaled << this.rcvWscale);
    return scaled;
  }

  /** Records a window offered to the guest and takes its credit from the shared budget. */
  private offered(window: number): void {
    const edge = (this.rcvNxt + window) >>> 0;
    if (!this.rcvEdgeSet || seqLt(this.rcvEdge, edge)) this.rcvEdge = edge;
    this.rcvEdgeSet = true;
    this.syncCredit();
  }

  /** Brings the credit held from the shared receive budget up to date. */
  private syncCredit(): void {
    const held = this.state === 'CLOSED' ? 0 : this.hostBuffered + this.openCredit();
    if (held !== this.creditHeld) {
      this.env.receiveCreditHeld(held - this.creditHeld);
      this.creditHeld = held;
    }
  }

  /**
   * The shared send or receive budget has room again: host reads may resume, and a window held
   * small by the receive budget is offered again (SWS-safe: only when it grows by an MSS).
   */
  budgetFreed(): void {
    if (this.state === 'CLOSED') return;
    this.updateHostPause();
    if (this.synchronized() && this.receiveWindow() - this.openCredit() >= this.mss) this.sendAck();
  }

  sendAck(): void {
    this.emitRaw(TCP_ACK, this.sndNxt, this.rcvNxt, this.advertisedWindow(), 0, 0, this.segmentOptions());
  }

  private challengeAck(): void {
    this.env.drop('tcp-challenge-ack');
    // RFC 5961 §7: at most CHALLENGE_ACK_LIMIT per second per connection (an injection storm gets no amplification).
    if (this.now - this.challengeWindowStart >= 1000) {
      this.challengeWindowStart = this.now;
      this.challengesInWindow = 0;
    }
    if (++this.challengesInWindow > CHALLENGE_ACK_LIMIT) return;
    this.env.stats.challengeAcks++;
    this.sendAck();
  }

  private challengeWindowStart = 0;
  private challengesInWindow = 0;

  private timestampOption(): { value: number; echo: number } {
    this.tsScratch.value = ((this.now >>> 0) + this.tsOffset) >>> 0;
    this.tsScratch.echo = this.tsRecent;
    return this.tsScratch;
  }

  /** Options for a non-SYN segment: timestamps and SACK blocks as negotiated, or none. */
  private segmentOptions(): TcpOptions | undefined {
    const o = this.opts;
    o.timestamp = this.tsOk ? this.timestampOption() : undefined;
    o.sack = undefined;
    if (this.sackOk && this.reorder.blockCount > 0) {
      const n = this.reorder.sackBlocks(this.sackAll, this.tsOk ? 3 : 4); // 40 option bytes (RFC 2018 §3)
      this.sackOut.length = 0;
      for (let i = 0; i < n; i++) {
        const p = this.sackPairs[i]!;
        p[0] = this.sackAll[i]![0];
        p[1] = this.sackAll[i]![1];
        this.sackOut.push(p);
      }
      o.sack = this.sackOut;
    }
    return o.timestamp || o.sack ? o : undefined;
  }

  private emit(flags: number, seq: number, payloadOffset: number, payloadLen: number): void {
    this.emitRaw(flags, seq, this.rcvNxt, this.advertisedWindow(), payloadOffset, payloadLen, this.segmentOptionsForData());
  }

  /** Data segments carry timestamps but not SACK blocks (they would shrink the payload below the MSS). */
  private segmentOptionsForData(): TcpOptions | undefined {
    if (!this.tsOk) return undefined;
    this.opts.timestamp = this.timestampOption();
    this.opts.sack = undefined;
    return this.opts;
  }

  private emitRaw(flags: number, seq: number, ack: number, window: number, payloadOffset: number, payloadLen: number, options?: TcpOptions): void {
    if (flags & TCP_ACK) {
      this.ackPending = 0; // every segment we send acknowledges RCV.NXT
      this.ackDeadline = Infinity;
      this.lastAckSent = ack;
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
    this.closeHost(false);
  }

  /** Sends RST to the guest and closes the host socket. */
  reset(reason: string): void {
    if (this.state === 'HOST_CONNECTING') this.emitRst(0, (this.irs + 1) >>> 0, true);
    else if (this.state !== 'CLOSED') this.emitRst(this.sndNxt, this.rcvNxt, true);
    this.closeHost(true);
    this.finish(reason);
  }

  /** Drops the connection without sending anything (TIME-WAIT reuse or eviction). */
  forget(reason: string): void {
    this.finish(reason);
  }

  /** The guest reset: close the host side abruptly. */
  private abort(reason: string): void {
    this.closeHost(true);
    this.finish(reason);
  }

  /** Closes the host socket once (gracefully or with a reset). */
  private closeHost(reset: boolean): void {
    if (this.hostSocketClosed) return;
    this.hostSocketClosed = true;
    this.env.host.tcpClose(this.handle, reset);
  }

  private hostSocketClosed = false;

  private finish(reason: string): void {
    if (this.state === 'CLOSED') return;
    this.closeHost(false);
    this.state = 'CLOSED';
    this.env.sendQueued(-this.sendQueue.length);
    this.sendQueue.clear();
    this.rcvEdgeSet = false;
    this.hostBuffered = 0;
    this.syncCredit();
    this.env.releaseReorder(this.reorder.bytes);
    this.reorder.clear();
    this.scoreboard.clear();
    this.deadline = Infinity;
    this.ackDeadline = Infinity;
    this.env.closed(this, reason);
  }

  private setDeadline(t: number): void {
    this.deadline = t;
    if (t !== Infinity) this.env.arm(t);
  }
}
