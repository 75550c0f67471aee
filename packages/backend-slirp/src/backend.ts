import { readFileSync } from 'node:fs';
import {
  BackendBase, BackendConfig, NetbeError, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_HDR_F_NEEDS_CSUM, decodeVnetHeader, emptyVnetHeader, encodeVnetHeader, gatherIov, scatterIov, type Iov,
} from '@netbe/core';
import { formatIpv4 } from '@netbe/wire';
import { NodeSlirpHost } from './node-host';
import { parseSlirpConfig, type HostForward, type SlirpOptions } from './options';
import { GsoCoalescer } from './gso-coalescer';
import { FRAME_COMPLETE } from './guest-link';
import { checkGuestOffload, completeTcpChecksum, guestRxHeader, partialTcpRxHeader } from './offload';
import { parseResolvConf } from './resolv-conf';
import { SlirpStack, type SlirpDescription } from './stack';
import type { SlirpCounters } from './counters';

export interface SlirpBackendOptions {
  /** Where log lines go (default: warnings to stderr, debug lines only with `debug=on`). */
  log?: (level: 'debug' | 'info' | 'warn', message: string) => void;
  /** The resolv.conf to read when no `resolver` option is given. */
  resolvConf?: string;
}

/** Largest frame the guest may hand us: 64 KiB IP + Ethernet/VLAN header. */
const MAX_FRAME = 65535 + 18;
/** The largest virtio-net header (VERSION_1 / MRG_RXBUF form). */
const MAX_HDR = 12;

/**
 * The offloads the stack can take: the guest's partial checksums and 64 KiB TCP segments (guest
 * TX: CSUM, HOST_TSO4) and frames marked as already checked, large TCP segments as GSO (guest
 * RX: GUEST_CSUM, GUEST_TSO4). With them the user-mode network costs the guest none of its
 * offloads. IPv6 and UFO are not offered (the stack is IPv4, UDP is never segmented).
 */
export const SLIRP_CAPS = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4;

/**
 * The `slirp` backend: a user-mode NAT (the sans-I/O {@link SlirpStack}) driven by Node sockets.
 * No root, no tap device: the guest's traffic leaves through ordinary host sockets. With a
 * virtio-net header (setCap 10 or 12) it takes the guest's offloads ({@link SLIRP_CAPS});
 * with header length 0 frames are plain Ethernet and the device adapts.
 */
export class SlirpBackend extends BackendBase {
  readonly stack: SlirpStack;
  readonly host: NodeSlirpHost;
  private readonly scratch = new Uint8Array(MAX_FRAME + MAX_HDR);
  private readonly txHeader = emptyVnetHeader();
  private readonly rxHeader = emptyVnetHeader();
  private readonly rxHeaderBytes = new Uint8Array(MAX_HDR);
  private readonly rxIov: Uint8Array[] = [this.rxHeaderBytes, this.rxHeaderBytes];
  private guestCsum = false;
  private guestTso4 = false;
  /** Back-to-back TCP segments toward a GUEST_TSO4 guest, merged into one GSO frame. */
  readonly coalescer = new GsoCoalescer();
  private readonly rxFrame = new Uint8Array(MAX_FRAME);
  /** The coalescer merges only complete frames (the TCP sender builds its own GSO frames when it can). */
  private readonly peekStack = (): Uint8Array | undefined => (this.stack.frameOffload === FRAME_COMPLETE ? this.stack.peekFrame() : undefined);
  private readonly takeStack = (): Uint8Array | undefined => this.stack.takeFrame();
  /** Frames from the guest whose virtio-net header was refused (bad checksum offsets, UFO…). */
  offloadRefused = 0;
  /** Guest frames taken with a partial checksum (NEEDS_CSUM), not verified. */
  checksumsOffloaded = 0;
  /** Frames to the guest sent as one GSO segment. */
  gsoFramesToGuest = 0;
  /** GSO frames built for a guest whose offloads were renegotiated without TSO before they left: dropped (TCP resends). */
  gsoFramesDropped = 0;
  private readonly mtu: number;

  private constructor(name: string, options: SlirpOptions, host: NodeSlirpHost) {
    super(name);
    this.mtu = options.mtu;
    this.host = host;
    this.stack = new SlirpStack(options, { host, clock: () => host.now() });
    host.bind(this.stack);
    for (const f of this.stack.hostForwards) if (f.rule.protocol === 'udp') host.markListener(f.handle);
    this.stack.onOutput = () => this.rx.notify();
  }

  /**
   * Creates the backend and waits until every hostfwd listener is bound (an address in use is a
   * `NetbeError` ERR_IO naming the rule, not a later surprise).
   */
  static async create(spec: string | BackendConfig | Record<string, unknown>, opts: SlirpBackendOptions = {}): Promise<SlirpBackend> {
    const config = BackendConfig.from(spec);
    const options = parseSlirpConfig(config);
    const debug = config.bool('debug', false);
    const log = opts.log ?? ((level: string, message: string) => {
      if (level === 'warn' || debug) console.error(`slirp ${level}: ${message}`);
    });
    if (options.resolvers.length === 0 && !options.restrict) {
      try {
        options.resolvers = parseResolvConf(readFileSync(opts.resolvConf ?? '/etc/resolv.conf', 'utf8'));
      } catch (e) {
        log('warn', `dns: cannot read ${opts.resolvConf ?? '/etc/resolv.conf'} (${(e as Error).message}); DNS forwarding is off`);
      }
      if (options.resolvers.length === 0) log('warn', 'dns: no IPv4 nameserver found; DNS queries will be dropped');
    }
    const host = new NodeSlirpHost({ icmp: config.bool('icmp', true), log });
    const backend = new SlirpBackend(config.toString(), options, host);
    const pending = backend.stack.hostForwards;
    if (pending.length > 0) {
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (pending.every((f) => host.listenerResults.has(f.handle))) resolve();
        };
        host.onListenerResult = check;
        check();
      });
      for (const f of pending) {
        const r = host.listenerResults.get(f.handle)!;
        if (r.error !== undefined) {
          await backend.close();
          throw new NetbeError('ERR_IO', `hostfwd=${describe(f.rule)}: cannot bind: ${r.error}`, { errno: r.error });
        }
        f.rule.hostPort = r.port!;
      }
    }
    return backend;
  }

  /** The stack's counters: flows, drops by reason (`stats` has the contract's frame counters). */
  get stackCounters(): SlirpCounters {
    return this.stack.counters;
  }

  /** Leases, neighbours, flows, connections and counters, as plain JSON (for `netbe` status output). */
  describe(): SlirpDescription {
    return this.stack.describe(this.host.now());
  }

  /** The hostfwd rules as bound (an ephemeral host port 0 is replaced by the real one). */
  get hostForwards(): HostForward[] {
    return this.stack.hostForwards.map((f) => f.rule);
  }

  // BackendBase hooks: the base class checks state and arguments and keeps the counters.

  protected transmit(iov: Iov, iovcnt: number, length: number): boolean {
    const hdrLen = this.vnetHdrLen;
    if (length - hdrLen > MAX_FRAME) return false;
    let frame: Uint8Array;
    if (hdrLen === 0) {
      frame = iovcnt === 1 ? iov[0]! : this.scratch.subarray(0, gatherIov(iov, iovcnt, this.scratch, 0));
    } else {
      // The header may be its own iov entry (the device's usual layout) or the start of one.
      const split = iovcnt === 2 && iov[0]!.length === hdrLen;
      const whole = split ? iov[0]! : iovcnt === 1 ? iov[0]! : this.scratch.subarray(0, gatherIov(iov, iovcnt, this.scratch, 0));
      decodeVnetHeader(whole, 0, hdrLen, this.txHeader);
      frame = split ? iov[1]! : whole.subarray(hdrLen);
      const refused = checkGuestOffload(this.txHeader, frame);
      if (refused !== undefined) {
        this.offloadRefused++;
        return false;
      }
      if ((this.txHeader.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
        // The guest left its TCP/UDP checksum to us: the stack takes the payload without it.
        this.checksumsOffloaded++;
        this.stack.l4ChecksumOffloaded = true;
        try {
          this.host.schedule(this.stack.input(frame, this.host.now()));
        } finally {
          this.stack.l4ChecksumOffloaded = false;
        }
        return true;
      }
    }
    this.host.schedule(this.stack.input(frame, this.host.now()));
    return true;
  }

  protected pendingLength(): number {
    if (this.guestTso4 && this.vnetHdrLen > 0) {
      const merged = this.coalescer.extend(this.peekStack, this.takeStack);
      if (merged > 0) return merged + this.vnetHdrLen;
    }
    const f = this.stack.peekFrame();
    return f ? f.length + this.vnetHdrLen : 0;
  }

  protected receive(iov: Iov, iovcnt: number): number {
    const hdrLen = this.vnetHdrLen;
    if (hdrLen > 0 && this.guestTso4) {
      if (this.coalescer.held === 0) this.coalescer.extend(this.peekStack, this.takeStack);
      if (this.coalescer.held > 0) {
        const { frame, single } = this.coalescer.emit(this.rxFrame, this.rxHeader);
        if (!single) return this.scatterWithHeader(frame, iov, iovcnt);
        guestRxHeader(frame, this.mtu, this.guestCsum, this.guestTso4, this.rxHeader);
        const n = this.scatterWithHeader(frame, iov, iovcnt);
        this.stack.releaseFrame(frame);
        return n;
      }
    }
    for (;;) {
      const offload = this.stack.frameOffload;
      const f = this.stack.takeFrame();
      if (!f) return 0;
      let n: number;
      if (offload !== FRAME_COMPLETE && (hdrLen === 0 || !this.guestCsum || (offload > 0 && !this.guestTso4))) {
        // Built for offloads the guest has since dropped: finish the checksum; a GSO frame cannot go.
        if (offload > 0) {
          this.gsoFramesDropped++;
          this.stack.releaseFrame(f);
          continue;
        }
        completeTcpChecksum(f);
      }
      if (hdrLen === 0) n = scatterIov(f, 0, f.length, iov, iovcnt);
      else {
        if (offload !== FRAME_COMPLETE && this.guestCsum) partialTcpRxHeader(f, offload, this.rxHeader);
        else guestRxHeader(f, this.mtu, this.guestCsum, this.guestTso4, this.rxHeader);
        n = this.scatterWithHeader(f, iov, iovcnt);
      }
      this.stack.releaseFrame(f);
      return n;
    }
  }

  /** Writes {@link rxHeader} and `frame` into the iov: total length, or -1 when it does not fit. */
  private scatterWithHeader(frame: Uint8Array, iov: Iov, iovcnt: number): number {
    const hdrLen = this.vnetHdrLen;
    encodeVnetHeader(this.rxHeader, this.rxHeaderBytes, 0, hdrLen);
    if (this.rxHeader.gsoType !== 0) this.gsoFramesToGuest++;
    if (scatterIov(this.rxHeaderBytes, 0, hdrLen, iov, iovcnt) < 0) return -1;
    const n = scatterIntoRest(frame, iov, iovcnt, hdrLen, this.rxIov);
    return n < 0 ? -1 : hdrLen + n;
  }

  protected discard(): number {
    if (this.coalescer.held > 0) {
      const len = this.coalescer.pendingLength + this.vnetHdrLen;
      this.coalescer.clear();
      return len;
    }
    const f = this.stack.takeFrame();
    if (!f) return 0;
    this.stack.releaseFrame(f);
    return f.length + this.vnetHdrLen;
  }

  protected override caps(): bigint {
    return SLIRP_CAPS;
  }

  /**
   * Header length 10 or 12: the backend uses it and honours the negotiated offloads. Length 0:
   * plain frames (the device strips/prepends the header, bhyve semantics), so no offload can be
   * carried.
   */
  protected applyCap(features: bigint, vnetHdrLen: number): number {
    if (vnetHdrLen === 0 && features !== 0n) {
      throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: offloads need a virtio-net header (setCap with length 10 or 12)`);
    }
    this.coalescer.clear(); // segments held for a guest whose offloads change: TCP retransmits them
    this.guestCsum = (features & VIRTIO_NET_F_GUEST_CSUM) !== 0n;
    this.guestTso4 = this.guestCsum && (features & VIRTIO_NET_F_GUEST_TSO4) !== 0n;
    this.stack.setGuestOffloads(this.guestCsum && vnetHdrLen > 0, this.guestTso4 && vnetHdrLen > 0);
    return vnetHdrLen;
  }

  protected override async release(): Promise<void> {
    this.stack.close();
    await this.host.close();
  }
}

function describe(r: HostForward): string {
  return `${r.protocol}:${formatIpv4(r.hostAddr)}:${r.hostPort}-${formatIpv4(r.guestAddr)}:${r.guestPort}`;
}

/**
 * Scatters `frame` into `iov[0..iovcnt)` starting `skip` bytes in (after the header). Returns the
 * bytes written, or -1 when the iov is too short. `views` is a reusable array.
 */
function scatterIntoRest(frame: Uint8Array, iov: Iov, iovcnt: number, skip: number, views: Uint8Array[]): number {
  let i = 0;
  let left = skip;
  while (i < iovcnt && left >= iov[i]!.length) left -= iov[i++]!.length;
  if (i >= iovcnt) return frame.length === 0 ? 0 : -1;
  views.length = 0;
  views.push(iov[i]!.subarray(left));
  for (let j = i + 1; j < iovcnt; j++) views.push(iov[j]!);
  return scatterIov(frame, 0, frame.length, views, views.length);
}
