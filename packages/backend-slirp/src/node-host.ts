import { createSocket as createUdpSocket, type Socket as UdpSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { connect as tcpConnect, createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { sys, isSysError, type Watcher } from '@netbe/sys';
import { checksumUpdate16, formatIpv4, internetChecksum, parseIpv4Address, type Ipv4Address } from '@netbe/wire';
import type { HostEvents, SlirpHost } from './host';

/** The stack as the adapter sees it: its event methods, plus the two it needs for accepted sockets. */

/** Bytes per read from an outbound host TCP socket in bulk: four 65480-byte segments (MTU 65520). */
const READ_SIZE = 4 * 65480;
/** The first read buffer of a connection (grown to READ_SIZE when a read fills it). */
const FIRST_READ = 16384;
/** A read at least this large keeps its buffer; a smaller one is copied to its own size. */
const KEEP_READ_BUFFER = READ_SIZE / 4;
/** Read buffers kept for reuse once the guest has acknowledged their bytes (16 MiB at most). */
const MAX_FREE_READ_BUFFERS = 64;
export interface StackEvents extends HostEvents {
  allocHandle(): number;
  hostTcpListening(handle: number, port: number): void;
  poll(now: number): number;
}

interface RawSocketModule {
  createSocket(options: { protocol: number; addressFamily?: number }): RawSocket;
  Protocol: { ICMP: number };
}
interface RawSocket {
  on(event: 'message', fn: (buf: Buffer, source: string) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  send(buf: Buffer, offset: number, length: number, address: string, after: (err?: Error) => void): void;
  close(): void;
}

export interface NodeHostOptions {
  /**
   * Forward echo requests: through ICMP datagram ("ping") sockets when
   * net.ipv4.ping_group_range allows our group, else a raw ICMP socket (needs CAP_NET_RAW).
   */
  icmp: boolean;
  log: (level: 'debug' | 'info' | 'warn', message: string) => void;
}

/**
 * The Node adapter for the sans-I/O stack: dgram and net sockets, a raw ICMP socket (npm
 * `raw-socket`; Node has no ICMP API), a monotonic clock and one timer for the stack's deadline.
 * Every socket callback becomes one `host*` call on the stack with `now`, and the deadline it
 * returns re-arms the timer.
 */
export class NodeSlirpHost implements SlirpHost {
  private events: StackEvents | undefined;
  private readonly udp = new Map<number, UdpSocket>();
  private readonly tcp = new Map<number, TcpSocket>();
  private readonly tcpErrors = new Map<number, string>();
  private readonly servers = new Map<number, Server>();
  private raw: RawSocket | undefined;
  private ping: PingSockets | undefined;
  /** How echo requests leave the host: 'dgram' (ping sockets), 'raw', or undefined (not at all). */
  readonly icmpMode: 'dgram' | 'raw' | undefined;
  readonly icmpAvailable: boolean;
  readonly icmpUnavailableReason: string | undefined;
  /** Bulk read buffers lent to the stack (their bytes wait in send queues until acknowledged), and those given back. */
  private readonly lentReadBuffers = new WeakSet<ArrayBufferLike>();
  private readonly freeReadBuffers: Uint8Array[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private closed = false;
  /** Listener results, for `SlirpBackend.create` to wait on: handle → port or error. */
  readonly listenerResults = new Map<number, { port?: number; error?: string }>();
  onListenerResult: () => void = () => undefined;

  constructor(private readonly opts: NodeHostOptions) {
    let reason: string | undefined;
    if (opts.icmp) {
      const reasons: string[] = [];
      const refused = PingSockets.probe();
      if (refused === undefined) {
        this.ping = new PingSockets((src, msg) => this.emit((ev, now) => ev.hostIcmpReceived(src, msg, now)), (m) => this.log('debug', m));
      } else {
        reasons.push(refused);
      }
      if (!this.ping) {
        try {
          const raw = createRequire(import.meta.url)('raw-socket') as RawSocketModule;
          this.raw = raw.createSocket({ protocol: raw.Protocol.ICMP });
          this.raw.on('message', (buf, source) => this.rawMessage(buf, source));
          this.raw.on('error', (err) => this.log('warn', `icmp socket: ${err.message}`));
        } catch (e) {
          reasons.push(`cannot open a raw ICMP socket: ${(e as Error).message}`);
        }
      }
      if (!this.ping && !this.raw) reason = reasons.join('; ');
    } else {
      reason = 'ICMP forwarding disabled (icmp=off)';
    }
    this.icmpMode = this.ping ? 'dgram' : this.raw ? 'raw' : undefined;
    this.icmpAvailable = this.icmpMode !== undefined;
    this.icmpUnavailableReason = reason;
  }

  /** Connects the adapter to the stack (which was built with this host). */
  bind(events: StackEvents): void {
    this.events = events;
  }

  now(): number {
    return performance.now();
  }

  /** Arms the single timer for `deadline` (ms on {@link now}'s clock) if it is earlier than the armed one. */
  schedule(deadline: number): void {
    if (this.closed || deadline === Infinity || deadline >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(this.fire, Math.max(0, Math.ceil(deadline - this.now())));
    this.timer.unref?.();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed || !this.events) return;
    this.schedule(this.events.poll(this.now()));
  };

  private emit(fn: (ev: StackEvents, now: number) => number): void {
    if (this.closed || !this.events) return;
    this.schedule(fn(this.events, this.now()));
  }

  // ---------------------------------------------------------------- UDP

  udpOpen(handle: number, bindAddr: Ipv4Address, bindPort: number): void {
    const sock = createUdpSocket('udp4');
    this.udp.set(handle, sock);
    sock.on('message', (msg, rinfo) => {
      const addr = parseIpv4Address(rinfo.address);
      if (addr === undefined) return;
      this.emit((ev, now) => ev.hostUdpReceived(handle, addr, rinfo.port, new Uint8Array(msg.buffer, msg.byteOffset, msg.length), now));
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      this.udp.delete(handle);
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      this.listenerDone(handle, { error: err.code ?? err.message });
      this.emit((ev, now) => ev.hostUdpError(handle, err.code ?? err.message, now));
    });
    sock.bind({ address: formatIpv4(bindAddr), port: bindPort, exclusive: true }, () => {
      const port = sock.address().port;
      this.listenerDone(handle, { port });
      this.emit((ev, now) => ev.hostUdpOpened(handle, port, now));
    });
  }

  udpSend(handle: number, dstAddr: Ipv4Address, dstPort: number, payload: Uint8Array): void {
    const sock = this.udp.get(handle);
    if (!sock) return;
    sock.send(payload, dstPort, formatIpv4(dstAddr), (err) => {
      if (err) this.log('debug', `udp ${handle}: send to ${formatIpv4(dstAddr)}:${dstPort}: ${err.message}`);
    });
  }

  udpClose(handle: number): void {
    const sock = this.udp.get(handle);
    if (!sock) return;
    this.udp.delete(handle);
    sock.close();
  }

  // ---------------------------------------------------------------- TCP

  tcpConnect(handle: number, dstAddr: Ipv4Address, dstPort: number): void {
    // Reads straight into our own buffers: FIRST_READ bytes at first (a request/response
    // connection never allocates more), READ_SIZE once a read fills its buffer (a bulk
    // transfer; Node's own 64 KiB reads cut every read into a 65480-byte segment and a 56-byte
    // one at MTU 65520). A large read keeps its buffer (the send queue holds it until
    // acknowledged); a small one is copied out so an idle connection never pins a large buffer.
    let next: Uint8Array = new Uint8Array(FIRST_READ);
    const sock = tcpConnect({
      host: formatIpv4(dstAddr),
      port: dstPort,
      allowHalfOpen: true,
      noDelay: true,
      onread: {
        buffer: () => next,
        callback: (n: number, buf: Uint8Array): boolean => {
          let chunk: Uint8Array;
          if (n >= KEEP_READ_BUFFER) {
            chunk = buf.subarray(0, n);
            next = this.bulkReadBuffer();
          } else {
            chunk = buf.slice(0, n);
            if (n === buf.length) next = this.bulkReadBuffer();
          }
          this.emit((ev, now) => ev.hostTcpData(handle, chunk, now));
          return true; // pausing is the stack's call (tcpPause)
        },
      },
    });
    this.wireTcp(handle, sock);
    sock.once('connect', () => this.emit((ev, now) => ev.hostTcpConnected(handle, now)));
  }

  tcpListen(handle: number, bindAddr: Ipv4Address, bindPort: number): void {
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (sock) => {
      if (this.closed || !this.events) {
        sock.destroy();
        return;
      }
      const peer = parseIpv4Address(sock.remoteAddress ?? '') ?? 0;
      const h = this.events.allocHandle();
      this.wireTcp(h, sock);
      this.emit((ev, now) => ev.hostTcpAccepted(handle, h, peer, sock.remotePort ?? 0, now));
    });
    this.servers.set(handle, server);
    this.pendingListeners.add(handle);
    server.on('error', (err: NodeJS.ErrnoException) => {
      this.servers.delete(handle);
      this.listenerDone(handle, { error: err.code ?? err.message });
      this.emit((ev, now) => ev.hostTcpClosed(handle, err.code ?? err.message, now));
    });
    server.listen({ host: formatIpv4(bindAddr), port: bindPort, exclusive: true }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : bindPort;
      this.listenerDone(handle, { port });
      this.events?.hostTcpListening(handle, port);
    });
  }

  /** UDP hostfwd sockets are listeners too (the backend waits for their bind). */
  private readonly pendingListeners = new Set<number>();
  /** Marks a UDP handle as a hostfwd listener whose bind result {@link listenerResults} records. */
  markListener(handle: number): void {
    this.pendingListeners.add(handle);
  }
  private listenerDone(handle: number, result: { port?: number; error?: string }): void {
    if (!this.pendingListeners.delete(handle)) return;
    this.listenerResults.set(handle, result);
    this.onListenerResult();
  }

  /** Accepted sockets (hostfwd) read with Node's 64 KiB buffers and 'data' events. */
  private wireTcp(handle: number, sock: TcpSocket): void {
    this.tcp.set(handle, sock);
    sock.on('data', (buf: Buffer) => this.emit((ev, now) => ev.hostTcpData(handle, new Uint8Array(buf.buffer, buf.byteOffset, buf.length), now)));
    sock.on('end', () => this.emit((ev, now) => ev.hostTcpEnd(handle, now)));
    sock.on('drain', () => this.emit((ev, now) => ev.hostTcpDrained(handle, sock.writableLength, now)));
    sock.on('error', (err: NodeJS.ErrnoException) => this.tcpErrors.set(handle, err.code ?? err.message));
    sock.on('close', () => {
      const known = this.tcp.get(handle) === sock;
      this.tcp.delete(handle);
      const error = this.tcpErrors.get(handle);
      this.tcpErrors.delete(handle);
      if (known) this.emit((ev, now) => ev.hostTcpClosed(handle, error, now));
    });
  }

  /**
   * Writes straight to the socket when nothing is queued in Node or libuv (one copy, into the
   * kernel: no Buffer, no write request); what the kernel does not take now is copied and queued
   * through Node's stream ('drain' then reports it gone).
   */
  tcpWrite(handle: number, data: Uint8Array): number {
    const sock = this.tcp.get(handle);
    if (!sock || sock.writableEnded) return 0;
    let rest = data;
    this.tcpWriteCounts.calls++;
    const h = (sock as unknown as { _handle?: { fd?: number; writeQueueSize?: number } | null })._handle;
    if (!sock.connecting && sock.writableLength === 0 && h && typeof h.fd === 'number' && h.fd >= 0 && h.writeQueueSize === 0) {
      try {
        const n = sys.write(h.fd, data);
        if (n === data.length) {
          this.tcpWriteCounts.direct++;
          return 0;
        }
        if (n > 0) rest = data.subarray(n);
      } catch {
        // EPIPE, ECONNRESET…: Node's own write below meets the same error and reports it.
      }
    }
    this.tcpWriteCounts.queued++;
    sock.write(rest.slice());
    return sock.writableLength;
  }

  /** tcpWrite calls, those the kernel took whole at once, and those (partly) queued in Node. */
  readonly tcpWriteCounts = { calls: 0, direct: 0, queued: 0 };

  /** A READ_SIZE buffer: one given back by {@link tcpDataDone}, else a new one. */
  private bulkReadBuffer(): Uint8Array {
    const reused = this.freeReadBuffers.pop();
    if (reused) return reused;
    const b = new Uint8Array(READ_SIZE);
    this.lentReadBuffers.add(b.buffer);
    return b;
  }

  /** The stack is done with a chunk: a bulk read buffer of ours goes back to the free list (no allocation, no GC per read). */
  tcpDataDone(chunk: Uint8Array): void {
    if (chunk.byteOffset !== 0 || !this.lentReadBuffers.has(chunk.buffer) || this.freeReadBuffers.length >= MAX_FREE_READ_BUFFERS) return;
    this.freeReadBuffers.push(new Uint8Array(chunk.buffer));
  }

  tcpShutdown(handle: number): void {
    const sock = this.tcp.get(handle);
    if (sock && !sock.writableEnded) sock.end();
  }

  tcpClose(handle: number, reset: boolean): void {
    const server = this.servers.get(handle);
    if (server) {
      this.servers.delete(handle);
      server.close();
      return;
    }
    const sock = this.tcp.get(handle);
    if (!sock) return;
    this.tcp.delete(handle); // the stack has forgotten it: no more events
    if (reset) sock.resetAndDestroy();
    else if (sock.writableEnded) sock.destroySoon();
    else sock.end(() => sock.destroy());
  }

  tcpPause(handle: number, paused: boolean): void {
    const sock = this.tcp.get(handle);
    if (!sock) return;
    if (paused) sock.pause();
    else sock.resume();
  }

  // ---------------------------------------------------------------- ICMP

  icmpSend(dst: Ipv4Address, message: Uint8Array): void {
    if (this.ping) return this.ping.send(dst, message, this.now());
    if (!this.raw) return;
    const buf = Buffer.from(message.buffer, message.byteOffset, message.length);
    this.raw.send(buf, 0, buf.length, formatIpv4(dst), (err) => {
      if (err) this.log('debug', `icmp send to ${formatIpv4(dst)}: ${err.message}`);
    });
  }

  private rawMessage(buf: Buffer, source: string): void {
    // IPv4 raw sockets deliver the IP header: skip it (IHL).
    if (buf.length < 20) return;
    const ihl = (buf[0]! & 0xf) * 4;
    if (ihl < 20 || buf.length < ihl + 8) return;
    const src = parseIpv4Address(source);
    if (src === undefined) return;
    const icmp = new Uint8Array(buf.buffer, buf.byteOffset + ihl, buf.length - ihl);
    if (icmp[0] === 8) return; // echo requests (ours, looped back, or anyone's): not for the stack
    this.emit((ev, now) => ev.hostIcmpReceived(src, icmp, now));
  }

  log(level: 'debug' | 'info' | 'warn', message: string): void {
    this.opts.log(level, message);
  }

  /** Closes every socket, server and the timer; resolves when they are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const waits: Array<Promise<void>> = [];
    for (const s of this.udp.values()) waits.push(new Promise((r) => s.close(() => r())));
    for (const s of this.tcp.values()) {
      waits.push(new Promise((r) => s.once('close', () => r())));
      s.destroy();
    }
    for (const s of this.servers.values()) waits.push(new Promise((r) => s.close(() => r())));
    this.udp.clear();
    this.tcp.clear();
    this.servers.clear();
    this.raw?.close();
    this.raw = undefined;
    this.ping?.close();
    this.ping = undefined;
    await Promise.all(waits);
  }
}

/** ICMP types and the IPv4 header fields the synthesized errors need. */
const ICMP_ECHO_REPLY = 0;
const ICMP_ECHO_REQUEST = 8;
const IPPROTO_ICMP = 1;
/** Ping sockets (one per echo identifier in use) idle longer than this are closed. */
const PING_IDLE_MS = 15_000;
/** At most this many ping sockets; the least recently used is closed to make room. */
const MAX_PING_SOCKETS = 256;

interface PingSocket {
  fd: number;
  watcher: Watcher;
  /** The identifier the stack wrote (its host id) and the one the kernel puts on the wire. */
  stackId: number;
  kernelId: number;
  lastUsed: number;
}

/**
 * Echo forwarding through ICMP datagram sockets, icmp(7): no privilege needed, only a group in
 * net.ipv4.ping_group_range. The kernel replaces the echo identifier with the socket's own
 * ("port") and hands each socket only the replies and errors for that identifier, so every
 * identifier the stack uses gets its own socket (bound to that same identifier when it is free,
 * else to one the kernel picks) and what comes back is rewritten to the stack's identifier:
 * the stack's IcmpRelay then maps it back to the guest's as it does for a raw socket. Errors
 * (unreachable, TTL exceeded) arrive on the socket's error queue (IP_RECVERR) and are rebuilt as
 * the ICMP error message a raw socket would have seen. Only echo: errors about UDP flows are not
 * visible here (they are with a raw socket).
 */
class PingSockets {
  private readonly byStackId = new Map<number, PingSocket>();
  private readonly buf = new Uint8Array(65536);

  constructor(
    private readonly deliver: (src: Ipv4Address, message: Uint8Array) => void,
    private readonly debug: (message: string) => void,
  ) {}

  /** undefined when a ping socket can be opened here, else why not. */
  static probe(): string | undefined {
    try {
      sys.close(sys.icmpOpen());
      return undefined;
    } catch (e) {
      if (isSysError(e, 'EACCES')) return 'ICMP datagram sockets refused (net.ipv4.ping_group_range excludes our group)';
      return `cannot open an ICMP datagram socket: ${(e as Error).message}`;
    }
  }

  send(dst: Ipv4Address, message: Uint8Array, now: number): void {
    if (message.length < 8 || message[0] !== ICMP_ECHO_REQUEST) return; // the kernel sends only echo requests
    const stackId = (message[4]! << 8) | message[5]!;
    const s = this.socketFor(stackId, now);
    if (!s) return;
    s.lastUsed = now;
    try {
      if (sys.icmpSendTo(s.fd, dst, message) < 0) this.debug(`icmp send to ${formatIpv4(dst)}: socket buffer full`);
      s.kernelId = sys.icmpIdent(s.fd);
    } catch (e) {
      this.debug(`icmp send to ${formatIpv4(dst)}: ${(e as Error).message}`);
    }
  }

  private socketFor(stackId: number, now: number): PingSocket | undefined {
    let s = this.byStackId.get(stackId);
    if (s) {
      this.byStackId.delete(stackId); // keep insertion order = last use order
      this.byStackId.set(stackId, s);
      return s;
    }
    for (const [id, old] of this.byStackId) {
      if (old.lastUsed + PING_IDLE_MS > now && this.byStackId.size < MAX_PING_SOCKETS) break;
      this.closeSocket(id, old);
    }
    let fd: number;
    try {
      fd = sys.icmpOpen({ ident: stackId, recvErr: true });
    } catch (e) {
      if (!isSysError(e, 'EADDRINUSE')) {
        this.debug(`icmp socket: ${(e as Error).message}`);
        return undefined;
      }
      try {
        fd = sys.icmpOpen({ recvErr: true }); // identifier taken (another process): the kernel picks one
      } catch (e2) {
        this.debug(`icmp socket: ${(e2 as Error).message}`);
        return undefined;
      }
    }
    const watcher = sys.watcherCreate(fd, (err) => this.ready(stackId, err !== null));
    s = { fd, watcher, stackId, kernelId: sys.icmpIdent(fd), lastUsed: now };
    this.byStackId.set(stackId, s);
    sys.watcherStart(watcher, sys.READABLE);
    return s;
  }

  /** Readable, or POLLERR (an error-queue entry; libuv has stopped the watcher): drain both. */
  private ready(stackId: number, pollError: boolean): void {
    const s = this.byStackId.get(stackId);
    if (!s) return;
    const buf = this.buf;
    for (let i = 0; i < 64; i++) {
      let r;
      try {
        r = sys.icmpRecvFrom(s.fd, buf);
      } catch {
        break; // the socket's pending error (IP_RECVERR): the error queue below has the details
      }
      if (!r) break;
      if (r.truncated || r.length < 8 || buf[0] !== ICMP_ECHO_REPLY) continue;
      const msg = buf.slice(0, r.length);
      restoreIdent(msg, 0, s.kernelId, s.stackId);
      this.deliver(r.address, msg);
    }
    for (let i = 0; i < 64; i++) {
      let e;
      try {
        e = sys.icmpRecvError(s.fd, buf);
      } catch (err) {
        this.debug(`icmp error queue: ${(err as Error).message}`);
        break;
      }
      if (!e) break;
      if (e.origin !== sys.SO_EE_ORIGIN_ICMP || e.length < 8) continue; // local errors: nothing to relay
      this.deliver(e.offender || e.address, icmpErrorMessage(e.type, e.code, e.info, e.address, buf.subarray(0, 8), s));
    }
    if (pollError && this.byStackId.get(stackId) === s) {
      try {
        sys.watcherStart(s.watcher, sys.READABLE);
      } catch (err) {
        this.debug(`icmp watcher: ${(err as Error).message}`);
        this.closeSocket(stackId, s);
      }
    }
  }

  private closeSocket(stackId: number, s: PingSocket): void {
    this.byStackId.delete(stackId);
    sys.watcherClose(s.watcher);
    sys.close(s.fd);
  }

  close(): void {
    for (const [id, s] of this.byStackId) this.closeSocket(id, s);
  }
}

/** Puts the stack's identifier back where the kernel wrote its own (offset of an ICMP echo header), fixing the checksum. */
function restoreIdent(msg: Uint8Array, at: number, kernelId: number, stackId: number): void {
  const id = (msg[at + 4]! << 8) | msg[at + 5]!;
  if (id !== kernelId || id === stackId) return;
  const sum = checksumUpdate16((msg[at + 2]! << 8) | msg[at + 3]!, kernelId, stackId);
  msg[at + 2] = sum >> 8;
  msg[at + 3] = sum & 0xff;
  msg[at + 4] = stackId >> 8;
  msg[at + 5] = stackId & 0xff;
}

/**
 * The ICMP error a raw socket would have received (RFC 792): type, code, the "unused"/MTU word,
 * then the quote: an IPv4 header for our echo to `dst` and its first 8 bytes with the stack's id.
 */
function icmpErrorMessage(type: number, code: number, info: number, dst: Ipv4Address, echoHead: Uint8Array, s: PingSocket): Uint8Array {
  const m = new Uint8Array(8 + 20 + 8);
  m[0] = type;
  m[1] = code;
  if (type === 3 && code === 4) {
    m[6] = (info >> 8) & 0xff; // RFC 1191: next-hop MTU
    m[7] = info & 0xff;
  }
  const ip = 8;
  m[ip] = 0x45;
  m[ip + 3] = 28; // total length of what is quoted here (header + 8)
  m[ip + 8] = 1; // TTL: unknown; the stack rewrites the quote
  m[ip + 9] = IPPROTO_ICMP;
  m[ip + 16] = dst >>> 24;
  m[ip + 17] = (dst >>> 16) & 0xff;
  m[ip + 18] = (dst >>> 8) & 0xff;
  m[ip + 19] = dst & 0xff;
  m.set(echoHead, ip + 20);
  restoreIdent(m, ip + 20, s.kernelId, s.stackId);
  const sum = internetChecksum(m);
  m[2] = sum >> 8;
  m[3] = sum & 0xff;
  return m;
}
