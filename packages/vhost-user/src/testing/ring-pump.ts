/**
 * Drives one ring of a {@link VhostUserFrontend} as fast as a guest driver that reuses its
 * buffers: a full ring of one-descriptor chains is laid out once by the MockDriver, then every
 * batch re-offers the same heads with raw stores (one avail->idx store), kicks once through the
 * eventfd and waits for the interrupt that says the device used them all (EVENT_IDX used_event
 * set to the last one). For benchmarks.
 */
import { sys } from '@netbe/sys';
import type { VhostUserFrontend } from './frontend';

export class RingPump {
  private readonly view: DataView;
  private readonly availOff: number;
  private readonly usedOff: number;
  private readonly heads: number[];
  private availIdx = 0;
  private waiting: (() => void) | null = null;
  private target = 0;

  constructor(
    private readonly fe: VhostUserFrontend,
    private readonly ring: number,
    /** A TX ring gets `readable` (header + frame); an RX ring `writable` buffers of that size. */
    spec: { readable?: Uint8Array; writable?: number },
  ) {
    const d = fe.drivers[ring]!;
    const memory = fe.memories[ring]!;
    const base = memory.regions[0]!.guestPhysAddr;
    this.view = memory.regionView(0);
    this.availOff = d.availAddr - base;
    this.usedOff = d.usedAddr - base;
    this.heads = [];
    for (let i = 0; i < d.size; i++) {
      const head = d.post(spec.readable ? { readable: [spec.readable] } : { writable: [spec.writable!] }, false);
      if (head < 0) throw new Error('ring layout failed');
      this.heads.push(head);
    }
    d.onInterrupt = () => {
      if (this.waiting && this.usedIdx() === this.target) {
        const w = this.waiting;
        this.waiting = null;
        w();
      }
    };
  }

  /** Chains per batch (the ring size). */
  get batchSize(): number {
    return this.heads.length;
  }

  private usedIdx(): number {
    return this.view.getUint16(this.usedOff + 2, true);
  }

  /** Offers every chain again, kicks, resolves when the device has used them all. */
  batch(): Promise<void> {
    const size = this.heads.length;
    for (let i = 0; i < size; i++) this.view.setUint16(this.availOff + 4 + 2 * ((this.availIdx + i) & (size - 1)), this.heads[i]!, true);
    this.target = (this.availIdx + size) & 0xffff;
    // used_event (virtio 1.2 §2.7.10): interrupt once the last one is used.
    this.view.setUint16(this.availOff + 4 + 2 * size, (this.target - 1) & 0xffff, true);
    this.view.setUint16(this.availOff + 2, this.target, true);
    this.availIdx = this.target;
    const done = new Promise<void>((resolve) => {
      this.waiting = resolve;
    });
    sys.eventfdWrite(this.fe.kickFds[this.ring]!, 1);
    return done;
  }
}
