/**
 * vhost-user: frames through the whole socket transport. The front-end is the test double of
 * @netbe/vhost-user/testing (guest RAM in a memfd, kick and call eventfds, the QEMU set-up
 * sequence over the unix socket); the back-end is a VhostUserServer with the virtio-net device
 * on a memory backend: `sink` for guest TX, `source` for guest RX. One queue pair, ring size 1024.
 *
 * One batch = the driver makes a full ring of chains available (one avail->idx store), kicks
 * once through the eventfd, and waits for the interrupt on the call eventfd that says the
 * device used them all: the real kick -> drain -> publish -> interrupt loop, with both sides on
 * this one thread (so the figure includes the driver's work and two event-loop turns per batch).
 *
 * Reference: memcpy of the same frame bytes, measured in this run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sys } from '@netbe/sys';
import { createBackend, type NetBackend } from '@netbe/core';
import '@netbe/backend-memory';
import { VirtioNetDevice } from '@netbe/virtio-net';
import { VhostUserNetDevice, VhostUserServer } from '@netbe/vhost-user';
import { VhostUserFrontend } from '@netbe/vhost-user/testing';
import type { Harness } from './harness';

const QUEUE = 1024;
const HDR = 12;
const RX = 0;
const TX = 1;

interface Setup {
  fe: VhostUserFrontend;
  server: VhostUserServer;
  backend: NetBackend;
  dir: string;
  close(): Promise<void>;
}

async function setup(backendSpec: string): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'netbe-bench-vu-'));
  const socketPath = join(dir, 'vu.sock');
  const backend = await createBackend(backendSpec);
  const net = new VirtioNetDevice({ backend, mac: '52:54:00:00:00:01', queueSize: QUEUE });
  const server = VhostUserServer.listen({ socketPath, device: new VhostUserNetDevice(net) });
  const fe = new VhostUserFrontend({ socketPath, queueSize: QUEUE, regionSize: 8 << 20 });
  return {
    fe,
    server,
    backend,
    dir,
    async close() {
      fe.close();
      await server.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A full ring of one-descriptor chains laid out once by the MockDriver, then recycled with raw
 * stores: every batch re-offers the same heads, as a guest driver reusing its buffers does.
 */
class RingPump {
  private readonly view: DataView;
  private readonly availOff: number;
  private readonly usedOff: number;
  private readonly heads: number[];
  private availIdx: number;
  private waiting: (() => void) | null = null;
  private target = 0;

  constructor(
    private readonly fe: VhostUserFrontend,
    private readonly ring: number,
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
    this.availIdx = 0; // nothing published yet: the first batch publishes the ring
    // Interrupts arrive on the call eventfd; the double's watcher calls the driver's interrupt().
    d.onInterrupt = () => {
      if (this.waiting && this.usedIdx() === this.target) {
        const w = this.waiting;
        this.waiting = null;
        w();
      }
    };
  }

  private usedIdx(): number {
    return this.view.getUint16(this.usedOff + 2, true);
  }

  /** Offers every chain again, kicks, resolves when the device has used them all. */
  batch(): Promise<void> {
    const n = this.heads.length;
    const size = n;
    for (let i = 0; i < n; i++) this.view.setUint16(this.availOff + 4 + 2 * ((this.availIdx + i) & (size - 1)), this.heads[i]!, true);
    this.target = (this.availIdx + n) & 0xffff;
    // used_event (EVENT_IDX, virtio 1.2 §2.7.10): interrupt once the last one is used.
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

export default async function (h: Harness): Promise<void> {
  h.note(`front-end: the test double over a memfd and eventfds; ring size ${QUEUE}; one queue pair; both sides on one thread`);
  for (const size of (process.env.NETBE_VU_SIZES ?? "64,1500").split(",").map(Number)) {
    // Guest TX -> sink.
    {
      const s = await setup('memory,mode=sink');
      try {
        await s.fe.setUp();
        const packet = new Uint8Array(HDR + size);
        packet.fill(0x5a, HDR);
        packet.fill(0xff, HDR, HDR + 6);
        const pump = new RingPump(s.fe, TX, { readable: packet });
        const ref = h.memcpy(size);
        const m = await h.measureAsync(() => pump.batch(), QUEUE, { bytesPerOp: size });
        if (s.backend.stats.txFrames === 0) throw new Error('no frame reached the sink');
        h.reportBoth(`tx-${size}`, m, 'memcpy', ref);
      } finally {
        await s.close();
      }
    }
    // Source -> guest RX.
    {
      const s = await setup(`memory,mode=source,size=${size}`);
      try {
        await s.fe.setUp();
        const pump = new RingPump(s.fe, RX, { writable: 2048 });
        const ref = h.memcpy(size);
        const m = await h.measureAsync(() => pump.batch(), QUEUE, { bytesPerOp: size });
        h.reportBoth(`rx-${size}`, m, 'memcpy', ref);
      } finally {
        await s.close();
      }
    }
  }
}
