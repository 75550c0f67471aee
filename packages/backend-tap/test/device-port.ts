import { decodeVnetHeader, emptyVnetHeader, encodeVnetHeader, type NetBackend, type VnetHeader } from '@netbe/core';
// The virtio-net package's test guest (MockDriver rings + the status handshake), as the slirp
// backend's device test uses it; import it from a published testing entry point once there is one.
import { TestGuest } from '@netbe/virtio-net/testing';
import type { FramePort, GuestHost } from './guest-host';

const RX_BUFFERS = 256;
const RX_BUFFER_SIZE = 2048;

/**
 * Connects a {@link GuestHost} to a backend through a real @netbe/virtio-net device driven by
 * MockDriver rings, as a Linux driver would: the host's frames go out through the TX ring with
 * the virtio-net header in front, and come back through posted RX buffers (merged with
 * MRG_RXBUF when a frame is larger than one buffer).
 */
export class DevicePort implements FramePort {
  host?: GuestHost;
  readonly guest: TestGuest;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly hdrIn: VnetHeader = emptyVnetHeader();

  constructor(backend: NetBackend, mac: string, wanted?: bigint) {
    this.guest = new TestGuest({ backend, mac, ...(wanted === undefined ? {} : { wanted }) });
    this.guest.postRx(RX_BUFFERS, RX_BUFFER_SIZE);
    // The device raises interrupts; a driver would then read the used ring. Poll instead.
    this.timer = setInterval(() => this.pump(), 1);
  }

  send(frame: Uint8Array, hdr?: VnetHeader): void {
    const header = new Uint8Array(this.guest.headerLength);
    if (hdr) encodeVnetHeader({ ...hdr, numBuffers: 0 }, header, 0, header.length);
    this.guest.completeTx();
    if (this.guest.send(frame, { header }) < 0) throw new Error('the TX ring is full');
    this.guest.completeTx();
  }

  private pump(): void {
    const got = this.guest.receive();
    if (got.length === 0) return;
    let buffers = 0;
    for (const r of got) {
      buffers += r.buffers;
      decodeVnetHeader(r.header, 0, r.header.length, this.hdrIn);
      this.host?.input(r.frame, this.hdrIn);
    }
    this.guest.postRx(buffers, RX_BUFFER_SIZE);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
