import { BackendBase, NetbeError, netFeatureNames, scatterIov, type Iov } from '@netbe/core';
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
export class TapBackend extends BackendBase {
  /** The interface name the kernel gave us. */
  readonly ifname: string;
  private fd: number;
  private readonly watcher: Watcher;
  /** Bytes of header the kernel reads and writes (0, or TUNSETVNETHDRSZ). */
  private kernelHdrLen: number;
  private readonly tapHasVnetHdr: boolean;
  private linkIsUp = true;

  /** One byte more than the largest frame, so that a longer one shows as truncated. */
  private readonly bounce = new Uint8Array(BOUNCE_SIZE + 1);
  /** Frame held in the bounce buffer by peekRecvLen: [bounceOff, bounceOff + bounceLen). */
  private bounceLen = 0;
  private bounceOff = 0;

  /** Scratch: the kernel header the device does not see, and the readv/writev list around it. */
  private readonly hiddenHdr = new Uint8Array(KERNEL_MIN_HDR);
  private readonly spare = new Uint8Array(1);
  private readonly list: Uint8Array[] = [];

  constructor(options: TapOptions) {
    super(options.name);
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

  /** False after the interface disappeared (linkChange(false) was sent). */
  get linkUp(): boolean {
    return this.linkIsUp;
  }

  /** The kernel would take even a 300 KB write (and drop it later): refuse what no frame can be. */
  protected transmit(iov: Iov, count: number, length: number): boolean {
    if (length - this.vnetHdrLen > MAX_FRAME || !this.linkIsUp) return false;
    let n: number;
    try {
      if (this.kernelHdrLen > this.vnetHdrLen) {
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
      return false;
    }
    return n >= 0;
  }

  protected pendingLength(): number {
    return this.bounceLen > 0 ? this.bounceLen : this.fillBounce();
  }

  /** Only a frame held in the bounce buffer: the fd watcher signals the others (no read to find out). */
  protected override rxPending(): boolean {
    return this.bounceLen > 0;
  }

  protected receive(iov: Iov, count: number): number {
    if (this.bounceLen > 0) {
      const len = this.bounceLen;
      this.bounceLen = 0;
      return scatterIov(this.bounce, this.bounceOff, this.bounceOff + len, iov, count);
    }
    // Room for the hidden header and the spare byte within one readv (IOV_MAX entries); a
    // longer list is cut, and a frame that needed the rest is then a counted drop.
    count = Math.min(count, sys.IOV_MAX - 2);
    let room = 0;
    for (let i = 0; i < count; i++) room += iov[i]!.length;
    const hidden = this.kernelHdrLen - this.vnetHdrLen;
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
      // EINVAL: the iov is shorter than the header: the kernel has consumed and dropped the frame.
      if (isSysError(e, 'EINVAL')) return -1;
      this.noteError(e);
      return 0;
    }
    if (n <= 0) return 0;
    const len = n - hidden;
    if (len > room) return -1;
    if (this.vnetHdrLen === 12) zeroNumBuffers(iov, count);
    return len;
  }

  protected discard(): number {
    const len = this.pendingLength();
    this.bounceLen = 0;
    return len;
  }

  protected override startRx(): void {
    if (!this.linkIsUp) return;
    try {
      sys.watcherStart(this.watcher, sys.READABLE);
    } catch (e) {
      this.noteError(e);
    }
  }

  protected override stopRx(): void {
    sys.watcherStop(this.watcher);
  }

  protected override caps(): bigint {
    return this.tapHasVnetHdr ? TAP_VNET_CAPS : 0n;
  }

  protected applyCap(features: bigint, vnetHdrLen: number): number {
    // bhyve's tap without IFF_VNET_HDR: no header at all; the device strips and adds it.
    if (!this.tapHasVnetHdr) return 0;
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
    return vnetHdrLen;
  }

  protected override release(): void {
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
    this.bounceOff = this.kernelHdrLen - this.vnetHdrLen;
    this.bounceLen = n - this.bounceOff;
    if (this.vnetHdrLen === 12) {
      this.bounce[10] = 0; // num_buffers: tun skips the bytes past struct virtio_net_hdr
      this.bounce[11] = 0;
    }
    return this.bounceLen;
  }

  private readonly onPoll = (error: SysError | null): void => {
    if (this.closed) return;
    // POLLERR on a tap fd: tun_chr_poll found no interface (deleted). libuv stopped the watcher.
    if (error) this.linkGone();
    else this.rx.readyNow();
  };

  private noteError(e: unknown): void {
    if (isSysError(e) && GONE.has(e.code)) this.linkGone();
  }

  private linkGone(): void {
    if (!this.linkIsUp || this.closed) return;
    this.linkIsUp = false;
    sys.watcherStop(this.watcher);
    this.rx.link(false);
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
