/**
 * virtio-ring: the split-virtqueue hot path of @netbe/virtio, device side.
 *
 * - pop+publish/1desc: pop a 1-descriptor chain, add it to the used ring; publish used->idx and
 *   take the interrupt decision once per batch of `QUEUE` chains (a drained kick). The
 *   reference is memcpy of the same 64 bytes per chain. The guest reuses its buffers, so the
 *   queue's per-slot view cache hits (the fast path).
 * - pop+publish/1desc-pool-N: the same, but the guest rotates its descriptors through a pool of N
 *   buffers (as Linux TX/RX buffers come from a recycled pool). N = 512 fits the queue's view
 *   cache (1024 entries for a queue of 256); N = 4096 does not, so every pop walks the chain
 *   and makes a new view: the slow path.
 * - copy-64 / copy-1500 / copy-65536: the same, plus copying the frame out of the chain into a
 *   buffer (what a TX path does towards a backend); reference: memcpy of the same bytes.
 * - copy-65536-pages: a 64 KiB frame split over 16 descriptors of 4 KiB (a GSO frame).
 * - copy-in-64 / copy-in-1500: the receive direction: pop a device-writable chain, copy a frame
 *   into it, add it to the used ring with the length written; reference: memcpy of the same
 *   bytes into the same guest buffers.
 *
 * The driver side is reduced to its minimum so the device is what is measured: every avail slot
 * always holds the same head, and "posting" a batch is one avail->idx store.
 */
import { DescriptorChain, GuestMemory, SplitQueue, VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1, featureMask, iovCopyFrom, iovCopyTo } from '@netbe/virtio';
import { MockDriver } from '@netbe/virtio/testing';
import type { Harness, Measurement } from './harness';

const QUEUE = 256;

interface Ring {
  queue: SplitQueue;
  chain: DescriptorChain;
  /** Views of every guest buffer the chains use, in ring order (for the memcpy reference). */
  buffers: Uint8Array[];
  /** Makes QUEUE more chains available (one avail->idx store). */
  repost(): void;
}

function makeRing(frameBytes: number, segments: number, pool = 0, writable = false): Ring {
  const segBytes = Math.ceil(frameBytes / segments);
  const memory = GuestMemory.allocate(Math.max(1, pool / QUEUE) * QUEUE * segments * segBytes + (1 << 20));
  const driver = new MockDriver({ memory, queueSize: QUEUE });
  driver.setFeatures(featureMask(VIRTIO_F_VERSION_1) | featureMask(VIRTIO_F_EVENT_IDX));
  const frame = new Uint8Array(frameBytes).fill(0x5a);
  const perChain = QUEUE / Math.max(1, segments);
  // With several segments per chain a full ring holds QUEUE / segments chains.
  const chains = segments === 1 ? QUEUE : Math.floor(perChain);
  const buffers: Uint8Array[] = [];
  for (let i = 0; i < chains; i++) {
    const head = driver.post(writable ? { writable: [frameBytes], segmentSize: segBytes } : { readable: [frame], segmentSize: segBytes });
    if (head < 0) throw new Error('ring setup failed');
    for (let d = head, n = 0; n < segments; n++) {
      const desc = driver.readDescriptor(d);
      buffers.push(memory.translateOrThrow(desc.addr, desc.len));
      d = desc.next;
    }
  }
  const queue = new SplitQueue({ maxSize: QUEUE });
  queue.setFeatures(driver.features);
  if (!driver.attach(queue)) throw new Error(`queue activation failed: ${queue.error?.message}`);
  const chain = new DescriptorChain(256);
  // The avail ring slots 0..chains-1 hold the heads; after that, make them reusable by
  // copying the first `chains` slots around the ring, so idx can advance forever.
  for (let slot = chains; slot < QUEUE; slot++) driver.writeAvailSlot(slot, memory.readU16(driver.availAddr + 4 + 2 * (slot % chains)));
  let availIdx = driver.availIdx;
  const perRepost = chains;
  // With a pool: pool/QUEUE buffer sets; each repost moves every descriptor to its buffer in the
  // next set (one u32 store per chain on the driver side).
  const table = new DataView(memory.regions[0]!.bytes.buffer, driver.descAddr, 16 * QUEUE);
  const sets = pool / QUEUE;
  const addrs: Uint32Array[] = [];
  for (let s = 0; s < sets; s++) {
    const a = new Uint32Array(QUEUE);
    for (let i = 0; i < QUEUE; i++) a[i] = s === 0 ? table.getUint32(16 * i, true) : driver.allocBuffer(segBytes);
    if (a.includes(0xffffffff)) throw new Error('buffer pool does not fit');
    addrs.push(a);
  }
  let set = 0;
  return {
    queue,
    chain,
    buffers,
    repost() {
      if (sets > 1) {
        set = (set + 1) % sets;
        const a = addrs[set]!;
        for (let i = 0; i < QUEUE; i++) table.setUint32(16 * i, a[i]!, true);
      }
      availIdx = (availIdx + perRepost) & 0xffff;
      memory.writeU16(driver.availAddr + 2, availIdx);
    },
  };
}

const envNumber = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

const median = (values: number[]): number => {
  const v = [...values].sort((x, y) => x - y);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
};

/**
 * Measures a case and its reference in alternating rounds (case, ref, case, ref...) and returns
 * the medians, so a change of machine load hits both alike: this machine is shared and noisy.
 */
function paired(h: Harness, batch: () => void, refBatch: () => void, opsPerBatch: number, bytesPerOp: number): { m: Measurement; ref: Measurement } {
  const pairs = envNumber('NETBE_BENCH_ROUNDS', 5);
  const roundMs = envNumber('NETBE_BENCH_MS', 300) / 2;
  const ms: Measurement[] = [];
  const refs: Measurement[] = [];
  for (let r = 0; r < pairs; r++) {
    ms.push(h.measure(batch, opsPerBatch, { bytesPerOp, rounds: 1, roundMs }));
    refs.push(h.measure(refBatch, opsPerBatch, { bytesPerOp, rounds: 1, roundMs }));
  }
  const pick = (list: Measurement[]): Measurement => ({ opsPerSec: median(list.map((x) => x.opsPerSec)), bytesPerSec: median(list.map((x) => x.bytesPerSec)) });
  return { m: pick(ms), ref: pick(refs) };
}

/** The reference: Uint8Array.set of exactly the guest bytes the chains hold, into `out`. */
function memcpyOf(buffers: Uint8Array[], out: Uint8Array): () => void {
  return () => {
    let at = 0;
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i]!;
      if (at + b.length > out.length) at = 0;
      out.set(b, at);
      at += b.length;
    }
  };
}

export default async function virtioRing(h: Harness): Promise<void> {
  h.note(`queue size ${QUEUE}; batch = one full ring; EVENT_IDX negotiated; one core; case and reference measured in alternating rounds`);
  for (const pool of [0, 512, 4096]) {
    const ring = makeRing(64, 1, pool);
    const { queue, chain } = ring;
    const batch = (): void => {
      while (queue.pop(chain)) queue.addUsed(chain.head, 0);
      queue.publish();
      queue.needsInterrupt();
      ring.repost();
    };
    const { m, ref } = paired(h, batch, memcpyOf(ring.buffers, new Uint8Array(64)), QUEUE, 64);
    if (queue.error !== null) throw queue.error;
    h.report(pool === 0 ? 'pop+publish/1desc' : `pop+publish/1desc-pool-${pool}`, m.opsPerSec / 1e6, 'Mpps', { name: 'memcpy-64B', value: ref.opsPerSec / 1e6, unit: 'Mpps' });
  }
  for (const [name, bytes, segments] of [
    ['copy-64', 64, 1],
    ['copy-1500', 1500, 1],
    ['copy-65536', 65536, 1],
    ['copy-65536-pages', 65536, 16],
  ] as const) {
    const ring = makeRing(bytes, segments);
    const { queue, chain, buffers } = ring;
    const out = new Uint8Array(bytes);
    const chainsPerBatch = segments === 1 ? QUEUE : QUEUE / segments;
    let copied = 0;
    const batch = (): void => {
      while (queue.pop(chain)) {
        copied += iovCopyFrom(chain.iov, chain.readable, 0, out);
        queue.addUsed(chain.head, 0);
      }
      queue.publish();
      queue.needsInterrupt();
      ring.repost();
    };
    const { m, ref } = paired(h, batch, memcpyOf(buffers, out), chainsPerBatch, bytes);
    if (queue.error !== null) throw queue.error;
    if (copied === 0) throw new Error('nothing was copied');
    h.reportBoth(name, m, 'memcpy', ref);
    const hot = h.memcpy(bytes);
    h.note(`${name}: memcpy of one hot ${bytes}-byte buffer (h.memcpy) ${(hot.opsPerSec / 1e6).toFixed(3)} Mpps, ratio ${(m.opsPerSec / hot.opsPerSec).toFixed(3)}`);
  }
  for (const bytes of [64, 1500]) {
    const ring = makeRing(bytes, 1, 0, true);
    const { queue, chain, buffers } = ring;
    const frame = new Uint8Array(bytes).fill(0xa5);
    let written = 0;
    const batch = (): void => {
      while (queue.pop(chain)) {
        const n = iovCopyTo(chain.iov, chain.writable, 0, frame);
        written += n;
        queue.addUsed(chain.head, n);
      }
      queue.publish();
      queue.needsInterrupt();
      ring.repost();
    };
    const refBatch = (): void => {
      for (let i = 0; i < buffers.length; i++) buffers[i]!.set(frame, 0);
    };
    const { m, ref } = paired(h, batch, refBatch, QUEUE, bytes);
    if (queue.error !== null) throw queue.error;
    if (written === 0) throw new Error('nothing was written');
    h.reportBoth(`copy-in-${bytes}`, m, 'memcpy', ref);
  }
}
