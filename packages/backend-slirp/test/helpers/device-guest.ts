import { waitFor } from '@netbe/test-utils';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, decodeVnetHeader, emptyVnetHeader, type NetBackend } from '@netbe/core';
// The virtio-net package's test guest (MockDriver rings + status handshake). It lives in that
// package's test folder; if it moves to a published testing entry point, import it from there.
import { TestGuest } from '../../../virtio-net/test/guest';
import { completePartialChecksum, decode, type Decoded } from './guest';
import type { GuestLike } from './acceptance';

const RX_BUFFERS = 128;
const RX_BUFFER_SIZE = 2048;

/**
 * A guest behind a real virtio-net device: frames go out through the TX ring (MockDriver posts a
 * chain with the virtio-net header in front) and come back through posted RX buffers, exactly as
 * a Linux driver would see them. The slirp backend uses no header, so the device adapts.
 */
export class DeviceGuest implements GuestLike {
  readonly guest: TestGuest;
  private readonly received: Decoded[] = [];

  constructor(backend: NetBackend) {
    this.guest = new TestGuest({ backend });
    this.guest.postRx(RX_BUFFERS, RX_BUFFER_SIZE);
  }

  send(frame: Uint8Array): void {
    if (this.guest.send(frame) < 0) throw new Error('the TX ring is full');
    this.guest.completeTx();
  }

  private pump(): void {
    const got = this.guest.receive();
    const hdr = emptyVnetHeader();
    for (const r of got) {
      // A partial checksum (NEEDS_CSUM) is the guest's to finish, as a driver's stack does.
      if (r.header.length >= 10) {
        decodeVnetHeader(r.header, 0, r.header.length, hdr);
        if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) completePartialChecksum(r.frame, hdr.csumStart, hdr.csumOffset);
      }
      this.received.push(decode(r.frame));
    }
    if (got.length > 0) this.guest.postRx(got.reduce((n, r) => n + r.buffers, 0), RX_BUFFER_SIZE);
  }

  async expect(pred: (d: Decoded) => boolean, what: string, ms = 5000): Promise<Decoded> {
    let found: Decoded | undefined;
    await waitFor(() => {
      this.pump();
      this.guest.completeTx();
      const i = this.received.findIndex(pred);
      if (i >= 0) found = this.received.splice(i, 1)[0];
      return found !== undefined;
    }, ms, what, 2);
    return found!;
  }

  async exchange(frame: Uint8Array, pred: (d: Decoded) => boolean, what: string): Promise<Decoded> {
    this.send(frame);
    return this.expect(pred, what);
  }
}
