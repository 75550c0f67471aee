import { decodeVnetHeader, emptyVnetHeader, encodeVnetHeader, type NetBackend, type VnetHeader } from '@netbe/core';
import type { FramePort, GuestHost } from './guest-host';

/**
 * Connects a {@link GuestHost} straight to a backend through the contract: frames out with
 * `send` (header first when the backend uses one), frames in on `rxReady` with peekRecvLen/recv
 * (`usePeek`) or recv alone.
 */
export class BackendPort implements FramePort {
  host?: GuestHost;
  private readonly rxBuf = new Uint8Array(65536 + 64);
  private readonly hdrOut = new Uint8Array(12);
  private readonly hdrIn: VnetHeader = emptyVnetHeader();
  /** Frames received through the contract. */
  rxFrames = 0;

  constructor(
    readonly backend: NetBackend,
    private readonly usePeek = false,
    onLink?: (up: boolean) => void,
  ) {
    backend.attach({ rxReady: () => this.drain(), linkChange: onLink });
  }

  send(frame: Uint8Array, hdr?: VnetHeader): void {
    const hlen = this.backend.vnetHdrLen;
    if (hlen === 0) {
      if (hdr && hdr.flags !== 0) throw new Error('offload requested but the backend has no header');
      this.backend.send([frame], 1);
      return;
    }
    const h = this.hdrOut.subarray(0, hlen);
    h.fill(0);
    if (hdr) encodeVnetHeader(hdr, h, 0, hlen);
    this.backend.send([h, frame], 2);
  }

  private drain(): void {
    for (let i = 0; i < 256; i++) {
      let n: number;
      if (this.usePeek) {
        const len = this.backend.peekRecvLen();
        if (len === 0) return;
        n = this.backend.recv([this.rxBuf.subarray(0, len)], 1);
      } else {
        n = this.backend.recv([this.rxBuf], 1);
      }
      if (n === 0) return;
      if (n < 0) continue;
      this.rxFrames++;
      const hlen = this.backend.vnetHdrLen;
      let hdr: VnetHeader | null = null;
      if (hlen > 0) {
        decodeVnetHeader(this.rxBuf, 0, hlen, this.hdrIn);
        hdr = this.hdrIn;
      }
      this.host?.input(this.rxBuf.slice(hlen, n), hdr);
    }
  }
}
