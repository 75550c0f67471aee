import {
  isValidVnetHdrLen,
  NetbeError,
  netFeatureNames,
  newBackendStats,
  type BackendListener,
  type BackendStats,
  type Iov,
  type NetBackend,
} from '@netbe/core';
import { isSysError, sys, type SysError, type Watcher } from '@netbe/sys';
import { TAP_VNET_CAPS, tunOffloadFlags } from './offload';
import type { TapOptions } from './options';
import { tapError } from './errors';

/** The kernel's header when the device asked for none: struct virtio_net_hdr (10 bytes). */
const KERNEL_MIN_HDR = 10;
/** Largest Ethernet frame either way: an IPv4/IPv6 packet of 64 KiB behind Ethernet + 802.1Q. */
const MAX_FRAME = 65536 + 18;
/** Largest frame the tap can hand us, with the longest header. */
const BOUNCE_SIZE = 12 + MAX_FRAME;

/** errno names that mean the interface is gone (deleted, or its namespace was). */
const GONE = new Set(['EBADFD', 'EBADF', 'ENODEV', 'ENXIO']);

/**
 * A Linux tap interface as a netbe backend (bhyve's tap backend, net_backends.c, plus the
 * virtio-net header):
 *
 * - send: one writev of the iov (guest memory, no copy). With the header on, partial checksums
 *   and TSO/UFO frames go to the kernel as they are; the kernel finishes or segments them.
 * - recv without a peek: one readv straight into the iov. peekRecvLen reads the frame into a
 *   bounce buffer (bhyve's bbuf) and the following recv copies it out: one copy per frame.
 * - readiness: a level-triggered fd watcher (uv_poll); rxDisable stops it.
 * - the interface deleted: POLLERR / EBADFD → linkChange(false) once; later sends are counted
 *   drops; the fd stays until close.
 */
export class TapBackend implements NetBackend {
  readonly name: string;
  /** The interface name the kernel gave us. */
  readonly ifname: string;
  private fd: number;
  private readonly watcher: Watcher;
  /** Bytes of header the kernel reads and writes (0, or TUNSETVNETHDRSZ). */
  private kernelHdrLen: number;
  private hdrLen = 0;
  private readonly tapHasVnetHdr: boolean;
  private readonly counters: BackendStats = newBackendStats();
  private listener: BackendListener | undefined;
  private rxEnabled = false;
  private closedFlag = false;
  private linkIsUp = true;
  private negotiated = 0n;

  /** One byte more than the largest frame, so that a longer one shows as truncated. */
  private readonly bounce = new Uint8Array(BOUNCE_SIZE + 1);
  /** Frame held in the bounce buffer by peekRecvLen: [bounceOff, bounceOff + bounceLen). */
  private bounceLen = 0;
  private bounceOff = 0;
  private immediate: ReturnType<typeof setImmediate> | undefined;

  /** Scratch: the kernel header the device does not see, and the readv/writev list around it. */
  private readonly hiddenHdr = new Uint8Array(KERNEL_MIN_HDR);
  private readonly spare = new Uint8Array(1);
  private readonly list: Uint8Array[] = [];

  constructor(options: TapOptions) {
    this.name = options.name;
    let opened: { fd: number; name: string };
    try {
      opened = sys.tapOpen({ name: options.ifname, vnetHdr: options.vnetHdr, device: options.device });
    } catch (e) {
      throw tapError(e, 'cannot open tap', options.ifname, options.device);
    }
    this.fd = opened.fd;
    this.ifname = opened.name;
    this.tapHasVnetHdr = options.vnetHdr;
    this.kernelHdrLen = options.vnetHdr ? KERNEL_MIN_HDR : 0;
    try {
      if (options.vnetHdr) {
        sys.tapSetVnetHdrSize(this.fd, KERNEL_MIN_HDR);
        sys.tapSetOffload(this.fd, 0);
      }
      if (options.up) sys.linkSetUp(this.ifname, true);
      this.watcher = sys.watcherCreate(this.fd, this.onPoll);
    } catch (e) {
      sys.close(this.fd);
      throw tapError(e, 'cannot set up tap', this.ifname, options.device);
    }
  }

  get stats(): Readonly<BackendStats> {
    return this.counters;
  }

  get vnetHdrLen(): number {
    return this.hdrLen;
  }

  /** The features the last setCap recorded. */
  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }

  /** False after the interface disappeared (linkChange(false) was sent). */
  get linkUp(): boolean {
    return this.linkIsUp;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  attach(listener: BackendListener): void {
    if (this.closedFlag) return;
    this.listener = listener;
    if (this.rxEnabled) this.scheduleHeld();
  }

  send(iov: Iov, iovcnt: number): number {
    if (this.closedFlag) return 0;
    const count = Math.min(iovcnt, iov.length);
    let total = 0;
    for (let i = 0; i < count; i++) total += iov[i]!.length;
    // The kernel would take even a 300 KB write (and drop it later): refuse what no frame can be.
    if (total <= this.hdrLen || total - this.hdrLen > MAX_FRAME || !this.linkIsUp) {
      this.counters.txDrops++;
      return 0;
    }
    let n: number;
    try {
      if (this.kernelHdrLen > this.hdrLen) {
        // The device sends no header but the tap expects one: prepend zeros (no offload).
        const list = this.list;
        list.length = count + 1;
        list[0] = this.hiddenHdr.fill(0);
        for (let i = 0; i < count; i++) list[i + 1] = iov[i]!;
        n = sys.writev(this.fd, list, count + 1);
      } else {
        n = sys.writev(this.fd, iov, count);
      }
    } catch (e) {
      // EIO: interface down; EINVAL: a header the kernel rejects (hostile guest); EBADFD: gone.
      this.noteError(e);
      this.counters.txDrops++;
      return 0;
    }
    if (n < 0) {
      this.counters.txDrops++;
      return 0;
    }
    this.counters.txFrames++;
    this.counters.txBytes += total;
    return total;
  }

  peekRecvLen(): number {
    if (this.closedFlag) return 0;
    if (this.bounceLen > 0) return this.bounceLen;
    return this.fillBounce();
  }

  recv(iov: Iov, iovcnt: number): number {
    if (this.closedFlag) return 0;
    let count = Math.min(iovcnt, iov.length);
    if (this.bounceLen > 0) return this.recvFromBounce(iov, count);
    // Room for the hidden header and the spare byte within one readv (IOV_MAX entries); a
    // longer list is cut, and a frame that needed the rest is then a counted drop.
    count = Math.min(count, sys.IOV_MAX - 2);
    let room = 0;
    for (let i = 0; i < count; i++) room += iov[i]!.length;
    const hidden = this.kernelHdrLen - this.hdrLen;
    // [kernel header the device does not want] + iov + [one spare byte]: a frame longer than
    // the iov fills the spare byte, which is how truncation shows (kernels differ in what
    // readv returns for a tap frame cut short).
    const list = this.list;
    let k = 0;
    if (hidden > 0) list[k++] = this.hiddenHdr;
    for (let i = 0; i < count; i++) list[k++] = iov[i]!;
    list[k++] = this.spare;
    list.length = k;
    let n: number;
    try {
      n = sys.readv(this.fd, list, k);
    } catch (e) {
      if (isSysError(e, 'EINVAL')) {
        // The iov is shorter than the header: the kernel has consumed and dropped the frame.
        this.counters.rxDrops++;
        return -1;
      }
      this.noteError(e);
      return 0;
    }
    if (n <= 0) return 0;
    const len = n - hidden;
    if (len > room) {
      this.counters.rxDrops++;
      return -1;
    }
    if (this.hdrLen === 12) zeroNumBuffers(iov, count);
    this.counters.rxFrames++;
    this.counters.rxBytes += len;
    return len;
  }

  rxDiscard(): number {
    if (this.closedFlag) return 0;
    const len = this.bounceLen > 0 ? this.bounceLen : this.fillBounce();
    if (len === 0) return 0;
    this.bounceLen = 0;
    this.counters.rxDrops++;
    return len;
  }

  rxEnable(): void {
    if (this.closedFlag) return;
    this.rxEnabled = true;
    if (this.linkIsUp) {
      try {
        sys.watcherStart(this.watcher, sys.READABLE);
      } catch (e) {
        this.noteError(e);
      }
    }
    this.scheduleHeld();
  }

  rxDisable(): void {
    this.rxEnabled = false;
    if (this.closedFlag) return;
    sys.watcherStop(this.watcher);
    this.cancelHeld();
  }

  getCap(): bigint {
    return this.closedFlag || !this.tapHasVnetHdr ? 0n : TAP_VNET_CAPS;
  }

  setCap(features: bigint, vnetHdrLen: number): void {
    if (this.closedFlag) return;
    if (!isValidVnetHdrLen(vnetHdrLen)) {
      throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: virtio-net header length ${vnetHdrLen} (expected 0, 10 or 12)`);
    }
    const extra = features & ~this.getCap();
    if (extra !== 0n) {
      throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: features outside getCap(): ${netFeatureNames(extra).join(', ') || `0x${extra.toString(16)}`}`);
    }
    if (!this.tapHasVnetHdr) {
      // bhyve's tap: no header at all; the device strips and adds it.
      this.negotiated = 0n;
      this.hdrLen = 0;
      return;
    }
    if (vnetHdrLen === 0 && features !== 0n) {
      throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: offloads (${netFeatureNames(features).join(', ')}) need a virtio-net header`);
    }
    const kernelHdr = vnetHdrLen === 0 ? KERNEL_MIN_HDR : vnetHdrLen;
    try {
      sys.tapSetVnetHdrSize(this.fd, kernelHdr);
      sys.tapSetOffload(this.fd, tunOffloadFlags(features));
    } catch (e) {
      throw tapError(e, 'cannot set offloads on', this.ifname, '');
    }
    // A frame peeked under the old header length would be misread: drop it.
    if (this.bounceLen > 0 && kernelHdr !== this.kernelHdrLen) {
      this.bounceLen = 0;
      this.counters.rxDrops++;
    }
    this.kernelHdrLen = kernelHdr;
    this.hdrLen = vnetHdrLen;
    this.negotiated = features;
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.rxEnabled = false;
    this.listener = undefined;
    this.cancelHeld();
    this.bounceLen = 0;
    sys.watcherClose(this.watcher);
    try {
      sys.close(this.fd);
    } catch {
      /* already invalid: nothing to release */
    }
    this.fd = -1;
  }

  /** Reads the next frame into the bounce buffer; its length as the device sees it, or 0. */
  private fillBounce(): number {
    let n: number;
    try {
      n = sys.read(this.fd, this.bounce);
    } catch (e) {
      this.noteError(e);
      return 0;
    }
    if (n <= 0) return 0;
    if (n > BOUNCE_SIZE || n <= this.kernelHdrLen) {
      this.counters.rxDrops++;
      return 0;
    }
    this.bounceOff = this.kernelHdrLen - this.hdrLen;
    this.bounceLen = n - this.bounceOff;
    if (this.hdrLen === 12) {
      this.bounce[10] = 0; // num_buffers: tun skips the bytes past struct virtio_net_hdr
      this.bounce[11] = 0;
    }
    return this.bounceLen;
  }

  private recvFromBounce(iov: Iov, count: number): number {
    const len = this.bounceLen;
    this.bounceLen = 0;
    let room = 0;
    for (let i = 0; i < count; i++) room += iov[i]!.length;
    if (room < len) {
      this.counters.rxDrops++;
      return -1;
    }
    let src = this.bounceOff;
    const end = this.bounceOff + len;
    for (let i = 0; i < count && src < end; i++) {
      const dst = iov[i]!;
      const take = Math.min(dst.length, end - src);
      dst.set(this.bounce.subarray(src, src + take));
      src += take;
    }
    this.counters.rxFrames++;
    this.counters.rxBytes += len;
    return len;
  }

  private readonly onPoll = (error: SysError | null): void => {
    if (this.closedFlag) return;
    if (error) {
      // POLLERR on a tap fd: tun_chr_poll found no interface (deleted). libuv stopped the watcher.
      this.linkGone();
      return;
    }
    if (!this.rxEnabled) return;
    this.listener?.rxReady();
    this.scheduleHeld();
  };

  /** A peeked frame sits in the bounce buffer where the fd watcher cannot see it: signal it. */
  private scheduleHeld(): void {
    if (this.immediate !== undefined || this.bounceLen === 0 || !this.rxEnabled || !this.listener) return;
    this.immediate = setImmediate(this.fireHeld);
  }

  private readonly fireHeld = (): void => {
    this.immediate = undefined;
    if (this.closedFlag || !this.rxEnabled || this.bounceLen === 0) return;
    this.listener?.rxReady();
    this.scheduleHeld();
  };

  private cancelHeld(): void {
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  private noteError(e: unknown): void {
    if (isSysError(e) && GONE.has(e.code)) this.linkGone();
  }

  private linkGone(): void {
    if (!this.linkIsUp || this.closedFlag) return;
    this.linkIsUp = false;
    sys.watcherStop(this.watcher);
    const listener = this.listener;
    setImmediate(() => {
      if (!this.closedFlag) listener?.linkChange?.(false);
    });
  }
}

/** Sets the 12-byte header's num_buffers (bytes 10..11) to 0 across iov entries. */
function zeroNumBuffers(iov: Iov, count: number): void {
  let offset = 0;
  for (let i = 0; i < count && offset < 12; i++) {
    const b = iov[i]!;
    for (let j = 0; j < b.length && offset < 12; j++, offset++) if (offset >= 10) b[j] = 0;
  }
}
