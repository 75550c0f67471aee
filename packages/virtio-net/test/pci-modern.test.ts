import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryPair } from '@netbe/backend-memory';
import { VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_MRG_RXBUF, type NetBackend } from '@netbe/core';
import { GuestMemory, STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK, STATUS_FEATURES_OK } from '@netbe/virtio';
import { MockDriver, guardedMemory } from '@netbe/virtio/testing';
import { waitFor } from '@netbe/test-utils';
import {
  COMMON_CONFIG_GENERATION,
  COMMON_DEVICE_FEATURE,
  COMMON_DEVICE_FEATURE_SELECT,
  COMMON_DEVICE_STATUS,
  COMMON_DRIVER_FEATURE,
  COMMON_DRIVER_FEATURE_SELECT,
  COMMON_NUM_QUEUES,
  COMMON_QUEUE_DESC,
  COMMON_QUEUE_DEVICE,
  COMMON_QUEUE_DRIVER,
  COMMON_QUEUE_ENABLE,
  COMMON_QUEUE_NOTIFY_OFF,
  COMMON_QUEUE_SELECT,
  COMMON_QUEUE_SIZE,
  MODERN_COMMON_OFFSET,
  MODERN_DEVICE_OFFSET,
  MODERN_ISR_OFFSET,
  MODERN_NOTIFY_OFFSET,
  MODERN_NOTIFY_OFF_MULTIPLIER,
  ModernVirtioPci,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VirtioNetDevice,
} from '../src/index';
import { F_VERSION_1 } from '../src/features';
import { equalBytes, frameSeq, makeFrame } from '@netbe/virtio-net/testing';

const C = MODERN_COMMON_OFFSET;

/** A virtio 1.x driver (Linux virtio_pci_modern order) that only touches the BAR. */
class ModernDriver {
  readonly pci: ModernVirtioPci;
  readonly memory: GuestMemory;
  rx!: MockDriver;
  tx!: MockDriver;
  intx = false;
  features = 0n;

  constructor(backend: NetBackend, device?: VirtioNetDevice) {
    this.memory = guardedMemory([
      { guestPhysAddr: 0x100000000, size: 8 << 20 }, // above 4 GiB: 64-bit ring addresses
      { guestPhysAddr: 0x200000000, size: 8 << 20 },
    ]).memory;
    const dev = device ?? new VirtioNetDevice({ backend, mac: '02:00:00:00:00:02', mtu: 9000 });
    dev.memory = this.memory;
    this.pci = new ModernVirtioPci(dev, { setIntx: (l) => (this.intx = l) });
  }

  r(offset: number, size: number): number {
    return this.pci.read(offset, size);
  }

  w(offset: number, size: number, value: number): void {
    this.pci.write(offset, size, value);
  }

  offered(): bigint {
    this.w(C + COMMON_DEVICE_FEATURE_SELECT, 4, 0);
    const lo = BigInt(this.r(C + COMMON_DEVICE_FEATURE, 4));
    this.w(C + COMMON_DEVICE_FEATURE_SELECT, 4, 1);
    const hi = BigInt(this.r(C + COMMON_DEVICE_FEATURE, 4));
    return lo | (hi << 32n);
  }

  /** Returns false when the device refused the features (FEATURES_OK did not stick). */
  init(wanted: bigint, ringSize = 256): boolean {
    this.w(C + COMMON_DEVICE_STATUS, 1, 0);
    this.w(C + COMMON_DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE);
    this.w(C + COMMON_DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    this.features = this.offered() & wanted;
    this.w(C + COMMON_DRIVER_FEATURE_SELECT, 4, 0);
    this.w(C + COMMON_DRIVER_FEATURE, 4, Number(this.features & 0xffffffffn));
    this.w(C + COMMON_DRIVER_FEATURE_SELECT, 4, 1);
    this.w(C + COMMON_DRIVER_FEATURE, 4, Number(this.features >> 32n));
    this.w(C + COMMON_DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if ((this.r(C + COMMON_DEVICE_STATUS, 1) & STATUS_FEATURES_OK) === 0) return false;
    assert.is(this.r(C + COMMON_NUM_QUEUES, 2), 2);
    this.rx = this.setupQueue(0, ringSize);
    this.tx = this.setupQueue(1, ringSize);
    this.w(C + COMMON_DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    return true;
  }

  private setupQueue(index: number, ringSize: number): MockDriver {
    this.w(C + COMMON_QUEUE_SELECT, 2, index);
    assert.is(this.r(C + COMMON_QUEUE_SIZE, 2), 1024, 'queue_size starts at the maximum');
    this.w(C + COMMON_QUEUE_SIZE, 2, ringSize);
    const driver = new MockDriver({ memory: new GuestMemory([this.memory.regions[index]!]), queueSize: ringSize });
    driver.setFeatures(this.features);
    for (const [field, addr] of [
      [COMMON_QUEUE_DESC, driver.descAddr],
      [COMMON_QUEUE_DRIVER, driver.availAddr],
      [COMMON_QUEUE_DEVICE, driver.usedAddr],
    ] as const) {
      this.w(C + field, 4, addr % 2 ** 32);
      this.w(C + field + 4, 4, Math.floor(addr / 2 ** 32));
      assert.is(this.r(C + field, 4) + this.r(C + field + 4, 4) * 2 ** 32, addr);
    }
    const notifyOff = this.r(C + COMMON_QUEUE_NOTIFY_OFF, 2);
    driver.onKick = () => this.w(MODERN_NOTIFY_OFFSET + notifyOff * MODERN_NOTIFY_OFF_MULTIPLIER, 2, index);
    this.w(C + COMMON_QUEUE_ENABLE, 2, 1);
    assert.is(this.r(C + COMMON_QUEUE_ENABLE, 2), 1, 'queue enabled');
    return driver;
  }
}

const WANTED = ~0n;

test('modern: capabilities describe the four structures; features are 64-bit and include VERSION_1', () => {
  const [a] = createMemoryPair({ vnetHdr: true });
  const d = new ModernDriver(a);
  const caps = d.pci.capabilities();
  assert.equal(caps.map((c) => c.cfgType), [1, 3, 4, 2]);
  const notify = ModernVirtioPci.capabilityBytes(caps.find((c) => c.cfgType === VIRTIO_PCI_CAP_NOTIFY_CFG)!, 0x50);
  assert.equal(Array.from(notify), [0x09, 0x50, 20, 2, 4, 0, 0, 0, 0x00, 0x30, 0, 0, 0x00, 0x10, 0, 0, 4, 0, 0, 0]);
  const offered = d.offered();
  assert.is(offered, d.pci.device.offeredFeatures);
  assert.ok((offered & F_VERSION_1) !== 0n);
  assert.ok(d.init(WANTED));
  assert.is(d.pci.device.negotiated, offered);
  assert.is(d.pci.device.guestHeaderLength, 12);
  assert.is(d.pci.device.backendHeaderLength, 12, 'the memory backend carries the header');
  assert.is(d.r(MODERN_DEVICE_OFFSET + 10, 2), 9000, 'mtu');
});

test('modern: FEATURES_OK is refused without VERSION_1 and for an offload without its prerequisite', () => {
  const [a] = createMemoryPair({ vnetHdr: true });
  const d = new ModernDriver(a);
  assert.not.ok(d.init(~F_VERSION_1));
  assert.not.ok(d.init(~(1n << 1n)), 'GUEST_TSO4 without GUEST_CSUM');
  assert.ok((d.offered() & VIRTIO_NET_F_GUEST_TSO4) !== 0n);
  assert.ok(d.init(WANTED));
});

test('modern: traffic with 64-bit ring addresses, kicks through the notify structure, INTx + ISR', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const da = new ModernDriver(a);
  const db = new ModernDriver(b);
  assert.ok(da.init(WANTED));
  assert.ok(db.init(~VIRTIO_NET_F_MRG_RXBUF));
  for (let i = 0; i < 8; i++) db.rx.post({ writable: [65536 + 12] });
  db.rx.kick();
  const frames = [64, 1500, 65536].map((n, i) => makeFrame(n, i));
  for (const f of frames) da.tx.postAndKick({ readable: [new Uint8Array(12), f] });
  await waitFor(() => db.rx.pendingUsed() === 3);
  assert.ok(db.intx);
  assert.is(db.r(MODERN_ISR_OFFSET, 1), 1);
  assert.not.ok(db.intx);
  const got = db.rx.takeAllUsed();
  got.forEach((u, i) => {
    assert.ok(equalBytes(u.written.subarray(12), frames[i]!));
    assert.is(u.written[10]! | (u.written[11]! << 8), 1, 'num_buffers is 1 without MRG_RXBUF (VERSION_1 header)');
  });
});

test('modern: config writes are ignored under VERSION_1; config_generation counts link changes', () => {
  const [a] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const d = new ModernDriver(a);
  assert.ok(d.init(WANTED));
  d.w(MODERN_DEVICE_OFFSET, 4, 0x12345678);
  assert.is(d.r(MODERN_DEVICE_OFFSET, 1), 0x02, 'MAC unchanged');
  const gen = d.r(C + COMMON_CONFIG_GENERATION, 1);
  d.pci.device.setLinkUp(false);
  assert.is(d.r(C + COMMON_CONFIG_GENERATION, 1), (gen + 1) & 0xff);
  assert.is(d.r(MODERN_ISR_OFFSET, 1), 2, 'ISR config bit');
  assert.is(d.r(MODERN_DEVICE_OFFSET + 6, 2) & 1, 0);
});

test('modern: a reset while a TX pass runs reads back non-zero until the pass ends, then 0', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n, queue: 512 });
  let d!: ModernDriver;
  let seen: number[] = [];
  let sends = 0;
  const wrapped: NetBackend = Object.create(a, {
    send: {
      value: (iov: readonly Uint8Array[], n: number) => {
        const r = a.send(iov, n);
        if (++sends === 3) {
          d.w(C + COMMON_DEVICE_STATUS, 1, 0);
          seen.push(d.r(C + COMMON_DEVICE_STATUS, 1));
        }
        return r;
      },
    },
  }) as NetBackend;
  d = new ModernDriver(wrapped);
  assert.ok(d.init(WANTED));
  b.setCap(0n, 0);
  for (let i = 0; i < 10; i++) d.tx.post({ readable: [new Uint8Array(12), makeFrame(100, i)] });
  d.tx.kick();
  assert.ok(seen[0]! !== 0, 'device_status not yet 0 while the pass runs');
  await waitFor(() => d.r(C + COMMON_DEVICE_STATUS, 1) === 0);
  assert.is(d.tx.usedRingIdx(), 3, 'the three frames handed over were published');
  let n = 0;
  while (b.peekRecvLen() > 0) {
    const f = new Uint8Array(b.peekRecvLen());
    b.recv([f], 1);
    assert.is(frameSeq(f), n++);
  }
  assert.is(n, 3);
  // The driver starts over.
  assert.ok(d.init(WANTED));
  seen = [];
  d.tx.postAndKick({ readable: [new Uint8Array(12), makeFrame(100, 50)] });
  assert.is(b.peekRecvLen(), 100);
});

test('modern: snapshot and restore of the transport resume RX exactly', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const d = new ModernDriver(a);
  assert.ok(d.init(WANTED));
  b.setCap(0n, 0);
  for (let i = 0; i < 20; i++) d.rx.post({ writable: [2048] });
  d.rx.kick();
  for (let i = 0; i < 5; i++) b.send([makeFrame(100, i)], 1);
  await waitFor(() => d.rx.pendingUsed() === 5);
  await d.pci.device.pause();
  for (let i = 5; i < 10; i++) b.send([makeFrame(100, i)], 1);
  const snap = JSON.parse(JSON.stringify(d.pci.snapshot()));
  const device2 = new VirtioNetDevice({ backend: a, mac: '02:00:00:00:00:02', mtu: 9000 });
  device2.memory = d.memory;
  const pci2 = new ModernVirtioPci(device2);
  pci2.restore(snap);
  assert.is(pci2.read(C + COMMON_DEVICE_STATUS, 1), d.r(C + COMMON_DEVICE_STATUS, 1));
  device2.resume();
  await waitFor(() => d.rx.pendingUsed() === 10);
  assert.equal(
    d.rx.takeAllUsed().map((u) => frameSeq(u.written.subarray(12))),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
});

test.run();
