import type { Ipv4Address } from '@netbe/wire';

/**
 * What the sans-I/O stack asks of the machine it runs on. Handles are small numbers the stack
 * allocates; the adapter maps them to sockets. Every request is fire-and-forget: results come
 * back through the stack's `host*` methods (see {@link HostEvents}), each with `now`.
 *
 * The Node adapter (`node-host.ts`) implements this with dgram/net sockets and raw-socket; tests
 * implement it with scripted fakes to inject loss, errors and reordering deterministically.
 */
export interface SlirpHost {
  /** Opens a UDP socket bound to `bindAddr:bindPort` (port 0 = ephemeral) → `hostUdpOpened` or `hostUdpError`. */
  udpOpen(handle: number, bindAddr: Ipv4Address, bindPort: number): void;
  /** May come before `hostUdpOpened`: the adapter queues until the socket is bound (Node's dgram does). */
  udpSend(handle: number, dstAddr: Ipv4Address, dstPort: number, payload: Uint8Array): void;
  udpClose(handle: number): void;

  /** Connects a TCP socket → `hostTcpConnected`, or `hostTcpClosed` with an error. */
  tcpConnect(handle: number, dstAddr: Ipv4Address, dstPort: number): void;
  /** Listens (hostfwd) → `hostTcpAccepted` for each connection, with a handle the adapter takes from `allocHandle`. */
  tcpListen(handle: number, bindAddr: Ipv4Address, bindPort: number): void;
  /**
   * Writes or queues bytes; returns the bytes now buffered on the host side (for the advertised
   * window). `data` is lent for the call only (it may be a view of a guest frame): whatever is
   * queued must be copied.
   */
  tcpWrite(handle: number, data: Uint8Array): number;
  /** Half-closes after the queued bytes (FIN from the guest). */
  tcpShutdown(handle: number): void;
  /** Closes; `reset` aborts (RST) instead of a graceful close. */
  tcpClose(handle: number, reset: boolean): void;
  /** Stops/starts reading (backpressure toward the host peer). */
  tcpPause(handle: number, paused: boolean): void;
  /**
   * Optional: a chunk `hostTcpData` delivered is no longer referenced by the stack (acknowledged
   * by the guest, or its connection gone); an adapter that lent its own read buffer may reuse it.
   */
  tcpDataDone?(chunk: Uint8Array): void;

  /** True when echo requests can be sent to real hosts (raw or ping sockets). */
  readonly icmpAvailable: boolean;
  /**
   * Which host ICMP socket is in use: `dgram` (unprivileged ping sockets: echo only) or `raw`
   * (also sees the host's ICMP errors about UDP flows); undefined when none.
   */
  readonly icmpMode?: 'dgram' | 'raw';
  /** Why ICMP is unavailable (logged once). */
  readonly icmpUnavailableReason?: string;
  /** Sends an ICMP message (header + data, checksum filled in) to `dst`. */
  icmpSend(dst: Ipv4Address, message: Uint8Array): void;

  log(level: 'debug' | 'info' | 'warn', message: string): void;
}

/** The stack methods the adapter calls (implemented by `SlirpStack`). Each returns the next deadline. */
export interface HostEvents {
  hostUdpOpened(handle: number, localPort: number, now: number): number;
  hostUdpReceived(handle: number, srcAddr: Ipv4Address, srcPort: number, payload: Uint8Array, now: number): number;
  hostUdpError(handle: number, reason: string, now: number): number;
  hostTcpConnected(handle: number, now: number): number;
  hostTcpAccepted(listener: number, handle: number, peerAddr: Ipv4Address, peerPort: number, now: number): number;
  hostTcpData(handle: number, data: Uint8Array, now: number): number;
  /** The host peer half-closed (FIN). */
  hostTcpEnd(handle: number, now: number): number;
  /** Host-side buffered bytes dropped to `buffered` (after a drain). */
  hostTcpDrained(handle: number, buffered: number, now: number): number;
  /** The socket is gone; `error` set when it failed (ECONNREFUSED → RST to the guest). */
  hostTcpClosed(handle: number, error: string | undefined, now: number): number;
  /** An ICMP message arrived on the host (raw socket: every ICMP message, IP header stripped). */
  hostIcmpReceived(srcAddr: Ipv4Address, message: Uint8Array, now: number): number;
}
