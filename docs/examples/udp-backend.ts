/**
 * An example third-party netbe backend: Ethernet frames tunnelled over UDP, one frame per
 * datagram (like QEMU's `-netdev dgram`). It is complete, type-checked and proven by the
 * conformance kit (udp-backend.test.ts); docs/backend-authors.md walks through it.
 *
 *   udp,remote=127.0.0.1:5001[,local=127.0.0.1:5000][,queue=256]
 */
import { createSocket, type Socket } from 'node:dgram';
import {
  BackendConfig,
  ConfigError,
  isValidVnetHdrLen,
  NetbeError,
  newBackendStats,
  registerBackend,
  type BackendListener,
  type BackendStats,
  type Iov,
  type NetBackend,
} from '@netbe/core';

/** An Ethernet frame with a 64 KiB payload still fits a UDP datagram over IPv4 (65 507). */
const MAX_FRAME = 65507;

function parseEndpoint(config: BackendConfig, option: string, fallback?: string): { host: string; port: number } {
  const text = fallback === undefined ? config.require(option) : (config.get(option) ?? fallback);
  const m = /^([0-9.]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(option, `"${text}" is not an IPv4 address:port`);
  return { host: m[1]!, port: Number(m[2]) };
}

export class UdpBackend implements NetBackend {
  readonly name: string;
  readonly vnetHdrLen = 0; // raw Ethernet on the wire: the device strips/prepends the header
  private readonly counters: BackendStats = newBackendStats();
  private readonly queue: Uint8Array[] = [];
  private listener: BackendListener | undefined;
  private enabled = false;
  private scheduled: ReturnType<typeof setImmediate> | undefined;
  private closed = false;

  private constructor(
    name: string,
    private readonly socket: Socket,
    private readonly remote: { host: string; port: number },
    private readonly queueLimit: number,
  ) {
    this.name = name;
    socket.on('message', (frame) => this.arrived(frame));
  }

  /** Binds the local socket; errors (address in use…) become a typed NetbeError. */
  static async open(config: BackendConfig): Promise<UdpBackend> {
    const remote = parseEndpoint(config, 'remote');
    const local = parseEndpoint(config, 'local', '127.0.0.1:0');
    const queue = config.int('queue', 256, 1, 65536);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (e: NodeJS.ErrnoException) => {
        socket.close();
        reject(new NetbeError('ERR_IO', `cannot bind ${local.host}:${local.port}: ${e.message}`, { cause: e, errno: e.code ?? 'EIO' }));
      });
      socket.bind(local.port, local.host, () => resolve());
    });
    socket.on('error', () => {}); // a later socket error must not crash the process; sends stay counted
    return new UdpBackend(config.toString(), socket, remote, queue);
  }

  /** The bound local port (useful with local=…:0). */
  get localPort(): number {
    return this.closed ? 0 : this.socket.address().port;
  }

  get stats(): Readonly<BackendStats> {
    return this.counters;
  }

  attach(listener: BackendListener): void {
    this.listener = listener;
  }

  send(iov: Iov, iovcnt: number): number {
    if (this.closed) return 0;
    const n = Math.min(iovcnt, iov.length);
    let len = 0;
    for (let i = 0; i < n; i++) len += iov[i]!.length;
    if (len === 0 || len > MAX_FRAME) {
      this.counters.txDrops++;
      return 0;
    }
    // The iov views guest memory that is reused as soon as we return: copy before the async send.
    const datagram = new Uint8Array(len);
    for (let i = 0, at = 0; i < n; at += iov[i]!.length, i++) datagram.set(iov[i]!, at);
    this.socket.send(datagram, this.remote.port, this.remote.host);
    this.counters.txFrames++;
    this.counters.txBytes += len;
    return len;
  }

  peekRecvLen(): number {
    return this.closed ? 0 : (this.queue[0]?.length ?? 0);
  }

  recv(iov: Iov, iovcnt: number): number {
    if (this.closed) return 0;
    const frame = this.queue.shift();
    if (frame === undefined) return 0;
    const n = Math.min(iovcnt, iov.length);
    let room = 0;
    for (let i = 0; i < n; i++) room += iov[i]!.length;
    if (room < frame.length) {
      this.counters.rxDrops++; // contract: the frame is dropped and -1 returned
      return -1;
    }
    for (let i = 0, at = 0; i < n && at < frame.length; i++) {
      const part = frame.subarray(at, at + iov[i]!.length);
      iov[i]!.set(part);
      at += part.length;
    }
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    return frame.length;
  }

  rxDiscard(): number {
    if (this.closed) return 0;
    const frame = this.queue.shift();
    if (frame === undefined) return 0;
    this.counters.rxDrops++;
    return frame.length;
  }

  rxEnable(): void {
    if (this.closed) return;
    this.enabled = true;
    if (this.queue.length > 0) this.schedule(); // never call rxReady from inside a verb
  }

  rxDisable(): void {
    this.enabled = false; // a call already scheduled checks the flag when it runs
  }

  getCap(): bigint {
    return 0n; // no offloads: nothing on a UDP wire could carry their metadata
  }

  setCap(features: bigint, vnetHdrLen: number): void {
    if (this.closed) return;
    if (!isValidVnetHdrLen(vnetHdrLen)) throw new NetbeError('ERR_UNSUPPORTED', `header length ${vnetHdrLen}`);
    if (features !== 0n) throw new NetbeError('ERR_UNSUPPORTED', 'this backend carries no offloads');
    // vnetHdrLen stays 0 whatever the device uses: the device adapts (bhyve's rule).
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.enabled = false;
    this.listener = undefined;
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.queue.length = 0;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private arrived(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.queue.length >= this.queueLimit) {
      this.counters.rxDrops++; // bounded: never queue without limit
      return;
    }
    this.queue.push(frame);
    if (this.enabled) this.schedule();
  }

  /** Level-triggered: while enabled and frames wait, rxReady keeps coming, one turn at a time. */
  private schedule(): void {
    if (this.scheduled !== undefined) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      if (!this.enabled || this.queue.length === 0) return;
      this.listener?.rxReady();
      if (this.enabled && this.queue.length > 0) this.schedule();
    });
  }
}

/** Registers the `udp` prefix: `createBackend('udp,remote=…')` now builds a UdpBackend. */
export function registerUdpBackend(): void {
  registerBackend({
    prefix: 'udp',
    description: 'Ethernet frames over UDP, one per datagram (example backend)',
    options: [
      { name: 'remote', description: 'where frames go: IPv4:port (required)' },
      { name: 'local', description: 'where frames arrive: IPv4:port (default 127.0.0.1:0)' },
      { name: 'queue', description: 'receive queue length in frames (default 256)' },
    ],
    examples: ['udp,remote=127.0.0.1:5001,local=127.0.0.1:5000'],
    create: (config) => UdpBackend.open(config),
  });
}
