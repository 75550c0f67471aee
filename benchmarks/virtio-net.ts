/**
 * virtio-net device data paths, driven through MockDriver rings in process:
 *
 * - `tx-<size>`: guest TX → memory sink. Each batch the guest re-publishes a full ring of
 *   prepared chains (header + frame in one buffer, as Linux does with VERSION_1), kicks once;
 *   the device drains, hands every frame to the backend, publishes used once.
 * - `rx-<size>`: memory source → guest RX. Each batch the guest gives back the buffers the device
 *   used and kicks; the device fills them (MRG_RXBUF, 2 KiB buffers; 4 KiB for 64 KiB frames:
 *   17 buffers per frame), one publish per batch.
 *
 * The backend carries no virtio-net header, so the device strips it on TX and zeroes it on RX.
 * Reference: memcpy of the same bytes (one `Uint8Array.set` of the frame size, in cache),
 * measured in rounds alternating with the case's. For 64 KiB RX also `scatter-memcpy`: the same
 * frame scattered into the same 4 KiB guest buffers (4 MiB in flight) one buffer per segment, the
 * copy alone. The device hands the backend buffers that follow each other in guest memory as one
 * segment (as Linux carves them from one page fragment, so do these), so it can beat that copy.
 * The sink does not touch the payload (TX moves descriptors, not bytes); RX copies every byte
 * once, into guest memory. `NETBE_BENCH_CASES=rx-65536,tx-64` runs only the named cases.
 */
import { createMemorySink, createMemorySource } from '@netbe/backend-memory';
import { MockDriver } from '@netbe/virtio/testing';
import { RX_QUEUE, TX_QUEUE, VirtioNetDevice } from '@netbe/virtio-net';
import { scatterIov, type NetBackend } from '@netbe/core';
import type { Harness, Measurement } from './harness';

const RING = 1024;
const HDR = 12;

/** A device with one queue attached to `driver` (the other queue unused), features all offered. */
function makeDevice(backend: NetBackend, driver: MockDriver, queue: number, ring = RING): VirtioNetDevice {
  const device = new VirtioNetDevice({ backend, queueSize: ring });
  device.memory = driver.memory;
  device.negotiate(device.offeredFeatures);
  driver.setFeatures(device.negotiated);
  const q = device.queue(queue);
  q.size = driver.size;
  q.descAddr = driver.descAddr;
  q.availAddr = driver.availAddr;
  q.usedAddr = driver.usedAddr;
  if (!device.startQueue(queue)) throw new Error(`queue ${queue} did not start`);
  device.start();
  return device;
}

/** Guest side without per-frame allocation: avail/used rings through one DataView. */
class RingView {
  private readonly view: DataView;
  private readonly base: number;
  private readonly mask: number;
  usedSeen = 0;
  availIdx = 0;

  constructor(private readonly driver: MockDriver) {
    this.mask = driver.size - 1;
    const region = driver.memory.regions[0]!;
    this.view = new DataView(region.bytes.buffer, region.bytes.byteOffset, region.bytes.byteLength);
    this.base = region.guestPhysAddr;
  }

  push(head: number): void {
    this.view.setUint16(this.driver.availAddr - this.base + 4 + 2 * (this.availIdx & this.mask), head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
  }

  publish(): void {
    this.view.setUint16(this.driver.availAddr - this.base + 2, this.availIdx, true);
  }

  usedIdx(): number {
    return this.view.getUint16(this.driver.usedAddr - this.base + 2, true);
  }

  usedId(i: number): number {
    return this.view.getUint32(this.driver.usedAddr - this.base + 4 + 8 * (i & this.mask), true);
  }
}

const envNumber = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2;
};

interface Reference {
  name: string;
  batch: () => void;
  ops: number;
}

/**
 * Measures the case and its references in alternating rounds (case, memcpy, case, …) and reports
 * the medians: on a shared, busy machine a reference taken minutes apart drifts. The first
 * reference is always memcpy of one frame (`Uint8Array.set`, in cache); others are reported as
 * extra lines `<name>-vs-<ref>`.
 */
function measureWithReference(h: Harness, name: string, batch: () => void, ops: number, bytes: number, extra: Reference[] = []): void {
  const rounds = envNumber('NETBE_BENCH_ROUNDS', 5);
  const src = new Uint8Array(bytes).fill(0x5a);
  const dst = new Uint8Array(bytes);
  const perBatch = Math.max(1, Math.floor((1 << 20) / bytes));
  const refs: Reference[] = [{ name: 'memcpy', batch: () => {
    for (let i = 0; i < perBatch; i++) dst.set(src);
  }, ops: perBatch }, ...extra];
  const cases: number[] = [];
  const refRates: number[][] = refs.map(() => []);
  for (let r = 0; r < rounds; r++) {
    cases.push(h.measure(batch, ops, { rounds: 1 }).opsPerSec);
    refs.forEach((ref, i) => refRates[i]!.push(h.measure(ref.batch, ref.ops, { rounds: 1 }).opsPerSec));
  }
  const m: Measurement = { opsPerSec: median(cases), bytesPerSec: median(cases) * bytes };
  const rates = refs.map((_, i) => median(refRates[i]!));
  refs.forEach((ref, i) => {
    h.reportBoth(i === 0 ? name : `${name}-vs-${ref.name}`, m, ref.name, { opsPerSec: rates[i]!, bytesPerSec: rates[i]! * bytes });
  });
  // An extra reference is the case's copy alone: its own ratio to memcpy says what the rest costs.
  for (let i = 1; i < refs.length; i++) h.note(`${name}: ${refs[i]!.name} alone runs at ${(rates[i]! / rates[0]!).toFixed(3)} of memcpy`);
}

function txCase(h: Harness, size: number): void {
  const driver = new MockDriver({ queueSize: RING, memorySize: RING * (size + HDR + 64) + (1 << 20) });
  const sink = createMemorySink({ vnetHdr: false, caps: 0n });
  const device = makeDevice(sink, driver, TX_QUEUE);
  const ring = new RingView(driver);
  const frame = new Uint8Array(HDR + size);
  frame.fill(0xff, HDR, HDR + 6);
  for (let i = 0; i < RING; i++) {
    const addr = driver.allocBuffer(frame.length);
    driver.memory.write(addr, frame);
    driver.writeDescriptor(i, { addr, len: frame.length, flags: 0, next: 0 });
  }
  const batch = (): void => {
    for (let i = 0; i < RING; i++) ring.push(i);
    ring.publish();
    device.kick(TX_QUEUE);
  };
  batch();
  if (device.stats.tx.frames !== RING || sink.stats.txFrames !== RING) throw new Error(`tx-${size}: ${device.stats.tx.frames} frames sent, expected ${RING}`);
  measureWithReference(h, `tx-${size}`, batch, RING, size);
}

function rxCase(h: Harness, size: number): void {
  const ringSize = RING;
  const bufSize = size > 4096 ? 4096 : 2048;
  const perFrame = Math.ceil((size + HDR) / bufSize);
  const driver = new MockDriver({ queueSize: ringSize, memorySize: ringSize * (bufSize + 64) + (1 << 20) });
  const source = createMemorySource({ vnetHdr: false, caps: 0n, size });
  const device = makeDevice(source, driver, RX_QUEUE, ringSize);
  const ring = new RingView(driver);
  const buffers: Uint8Array[] = [];
  for (let i = 0; i < ringSize; i++) {
    const addr = driver.allocBuffer(bufSize);
    driver.writeDescriptor(i, { addr, len: bufSize, flags: 2 /* WRITE */, next: 0 });
    buffers.push(driver.memory.translate(addr, bufSize)!);
    ring.push(i);
  }
  ring.publish();
  const framesPerBatch = Math.floor(ringSize / perFrame);
  const batch = (): void => {
    // Give back every buffer the device used, then kick: the device fills the ring again.
    const used = ring.usedIdx();
    for (let i = ring.usedSeen; i !== used; i = (i + 1) & 0xffff) ring.push(ring.usedId(i));
    ring.usedSeen = used;
    ring.publish();
    device.kick(RX_QUEUE);
  };
  batch();
  const before = device.stats.rx.frames;
  batch();
  const delivered = device.stats.rx.frames - before;
  if (delivered !== framesPerBatch) throw new Error(`rx-${size}: ${delivered} frames per batch, expected ${framesPerBatch}`);
  // The copy alone, as a device that hands the backend one segment per guest buffer would have it
  // made: the same frame scattered (`scatterIov`) into the same 17 buffers, frame after frame,
  // with no rings, no header and no backend. The iov for each starting buffer is made up front.
  const frame = new Uint8Array(HDR + size).fill(0x5a);
  const iovFrom = buffers.map((_, at) => Array.from({ length: perFrame }, (_, k) => buffers[(at + k) % ringSize]!));
  let first = 0;
  const scatter = (): void => {
    for (let f = 0; f < framesPerBatch; f++) {
      scatterIov(frame, 0, frame.length, iovFrom[first]!, perFrame);
      first = (first + perFrame) % ringSize;
    }
  };
  measureWithReference(h, `rx-${size}`, batch, framesPerBatch, size, size > 4096 ? [{ name: 'scatter-memcpy', batch: scatter, ops: framesPerBatch }] : []);
}

export default async function (h: Harness): Promise<void> {
  // NETBE_BENCH_CASES=rx-65536,tx-64 runs only the named cases.
  const wanted = process.env.NETBE_BENCH_CASES?.split(',').map((c) => c.trim()).filter(Boolean);
  const runs = (name: string): boolean => wanted === undefined || wanted.length === 0 || wanted.includes(name);
  for (const size of [64, 1500, 65536]) if (runs(`tx-${size}`)) txCase(h, size);
  for (const size of [64, 1500, 65536]) if (runs(`rx-${size}`)) rxCase(h, size);
}
