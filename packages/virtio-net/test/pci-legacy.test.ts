import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryPair } from '@netbe/backend-memory';
import { VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS, type NetBackend } from '@netbe/core';
import { GuestMemory, STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK } from '@netbe/virtio';
import { MockDriver, guardedMemory } from '@netbe/virtio/testing';
import { waitFor } from '@netbe/test-utils';
import { VirtioNetDevice } from '../src/index';
import { F_EVENT_IDX, F_INDIRECT_DESC, F_NOTIFY_ON_EMPTY, F_VERSION_1 } from '../src/features';
import {
  LEGACY_GUEST_FEATURES,
  LEGACY_HOST_FEATURES,
  LEGACY_ISR,
  LEGACY_MSI_CONFIG_VECTOR,
  LEGACY_MSI_QUEUE_VECTOR,
  LEGACY_QUEUE_NOTIFY,
  LEGACY_QUEUE_NUM,
  LEGACY_QUEUE_PFN,
  LEGACY_QUEUE_SEL,
  LEGACY_STATUS,
} from '../src/pci/legacy-registers';
import { LegacyVirtioPci } from '../src/pci/legacy';
import { equalBytes, frameSeq, makeFrame } from '@netbe/virtio-net/testing';

const RX_RING = 0x100000;
const TX_RING = 0x900000;

/** A legacy driver that touches the device only through BAR0 registers (and the MSI-X table). */
class LegacyDriver {
  readonly pci: LegacyVirtioPci;
  readonly memory: GuestMemory;
  readonly guardsIntact: () => boolean;
  rx!: MockDriver;
  tx!: MockDriver;
  intx = false;
  msi: Array<[number, number]> = [];
  features = 0;

  constructor(backend: NetBackend, device?: VirtioNetDevice) {
    const g = guardedMemory([
      { guestPhysAddr: 0, size: 8 << 20 },
      { guestPhysAddr: 8 << 20, size: 8 << 20 },
    ]);
    this.memory = g.memory;
    this.guardsIntact = g.guardsIntact;
    const dev = device ?? new VirtioNetDevice({ backend, mac: '02:00:00:00:00:01' });
    dev.memory = this.memory;
    this.pci = new LegacyVirtioPci(dev, {
      setIntx: (level) => {
        this.intx = level;
      },
      deliverMsi: (address, data) => this.msi.push([address, data]),
    });
  }

  r(offset: number, size: number): number {
    return this.pci.read(offset, size);
  }

  w(offset: number, size: number, value: number): void {
    this.pci.write(offset, size, value);
  }

  /** Linux virtio_pci_legacy probe order: reset, ACK, DRIVER, features, queues, DRIVER_OK. */
  init(wanted: number): void {
    this.w(LEGACY_STATUS, 1, 0);
    this.w(LEGACY_STATUS, 1, STATUS_ACKNOWLEDGE);
    this.w(LEGACY_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    const host = this.r(LEGACY_HOST_FEATURES, 4);
    this.features = (host & wanted) >>> 0;
    this.w(LEGACY_GUEST_FEATURES, 4, this.features);
    this.rx = this.setupQueue(0, RX_RING, 0);
    this.tx = this.setupQueue(1, TX_RING, 1);
    this.w(LEGACY_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
  }

  private setupQueue(index: number, ringAddr: number, region: number): MockDriver {
    this.w(LEGACY_QUEUE_SEL, 2, index);
    const size = this.r(LEGACY_QUEUE_NUM, 2);
    assert.is(size, 1024, 'QUEUE_NUM is the device ring size');
    const driver = new MockDriver({ memory: new GuestMemory([this.memory.regions[region]!]), queueSize: size, ringAddr });
    driver.setFeatures(BigInt(this.features));
    driver.onKick = () => this.w(LEGACY_QUEUE_NOTIFY, 2, index);
    this.w(LEGACY_QUEUE_PFN, 4, ringAddr / 4096);
    assert.is(this.r(LEGACY_QUEUE_PFN, 4), ringAddr / 4096);
    return driver;
  }

  /** The interrupt handler of a legacy INTx driver: read (and so clear) the ISR. */
  isr(): number {
    return this.r(LEGACY_ISR, 1);
  }

  configOffset(): number {
    return this.pci.configOffset;
  }

  mac(): Uint8Array {
    const out = new Uint8Array(6);
    for (let i = 0; i < 6; i++) out[i] = this.r(this.configOffset() + i, 1);
    return out;
  }
}

const WANTED = Number(VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF | F_EVENT_IDX | F_INDIRECT_DESC | F_NOTIFY_ON_EMPTY);

test('legacy: feature registers expose the low 32 bits only (no VERSION_1); negotiation takes effect per write', () => {
  const [a] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const d = new LegacyDriver(a);
  const host = d.r(LEGACY_HOST_FEATURES, 4);
  assert.is(BigInt(host), d.pci.device.offeredFeatures & 0xffffffffn);
  assert.is((BigInt(host) << 0n) & F_VERSION_1, 0n);
  d.init(WANTED);
  assert.is(d.r(LEGACY_GUEST_FEATURES, 4), (host & WANTED) >>> 0);
  assert.is(d.pci.device.guestHeaderLength, 12, 'MRG_RXBUF: 12-byte header');
  assert.ok(d.pci.device.isStarted);
});

test('legacy: traffic through two devices driven only by registers, INTx and ISR read-to-clear', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const da = new LegacyDriver(a);
  const db = new LegacyDriver(b);
  da.init(WANTED);
  db.init(WANTED & ~Number(VIRTIO_NET_F_MRG_RXBUF));
  assert.is(db.pci.device.guestHeaderLength, 10, 'legacy without MRG_RXBUF: 10-byte header');
  for (let i = 0; i < 16; i++) db.rx.post({ writable: [65536 + 10] });
  db.rx.kick();
  const frames = [60, 1514, 9000, 65536].map((n, i) => makeFrame(n, i));
  for (const f of frames) da.tx.postAndKick({ readable: [new Uint8Array(12), f], indirect: true, segmentSize: 2048 });
  assert.is(da.tx.pendingUsed(), 4);
  await waitFor(() => db.intx, 2000, 'INTx asserted on the receiver');
  assert.is(db.isr() & 1, 1, 'ISR queue bit');
  assert.not.ok(db.intx, 'reading the ISR deasserted INTx');
  assert.is(db.isr(), 0, 'and cleared it');
  await waitFor(() => db.rx.pendingUsed() === 4);
  const got = db.rx.takeAllUsed();
  got.forEach((u, i) => assert.ok(equalBytes(u.written.subarray(10), frames[i]!), `frame ${i} intact`));
  assert.ok(da.guardsIntact() && db.guardsIntact());
});

test('legacy: MSI-X moves device config to offset 24 and routes queue and config vectors', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const d = new LegacyDriver(a);
  const msix = d.pci.interrupts.msix;
  // The VMM's PCI config space forwards the capability's control bits and BAR1 table writes.
  msix.setControl(true, false);
  for (let v = 0; v < 3; v++) {
    msix.writeTable(v * 16, 4, 0xfee00000 + v * 0x1000);
    msix.writeTable(v * 16 + 4, 4, 0);
    msix.writeTable(v * 16 + 8, 4, 0x40 + v);
    msix.writeTable(v * 16 + 12, 4, 0); // unmask
  }
  assert.is(d.configOffset(), 24);
  assert.equal(Array.from(d.mac()), [2, 0, 0, 0, 0, 1]);
  d.w(LEGACY_MSI_CONFIG_VECTOR, 2, 2);
  assert.is(d.r(LEGACY_MSI_CONFIG_VECTOR, 2), 2);
  d.w(LEGACY_QUEUE_SEL, 2, 0);
  d.w(LEGACY_MSI_QUEUE_VECTOR, 2, 0);
  d.w(LEGACY_QUEUE_SEL, 2, 1);
  d.w(LEGACY_MSI_QUEUE_VECTOR, 2, 1);
  d.w(LEGACY_QUEUE_SEL, 2, 0);
  d.w(LEGACY_MSI_QUEUE_VECTOR, 2, 77);
  assert.is(d.r(LEGACY_MSI_QUEUE_VECTOR, 2), 0xffff, 'a vector beyond the table reads back as NO_VECTOR');
  d.w(LEGACY_MSI_QUEUE_VECTOR, 2, 0);
  d.init(WANTED);
  // init() reset the device: vectors are gone; set them again as Linux does after reset.
  d.w(LEGACY_MSI_CONFIG_VECTOR, 2, 2);
  d.w(LEGACY_QUEUE_SEL, 2, 0);
  d.w(LEGACY_MSI_QUEUE_VECTOR, 2, 0);
  d.rx.post({ writable: [2048] });
  d.rx.kick();
  b.setCap(0n, 0);
  b.send([makeFrame(100, 5)], 1);
  await waitFor(() => d.msi.length > 0);
  assert.equal(d.msi[0], [0xfee00000, 0x40], 'RX used: vector 0');
  assert.is(d.isr(), 0, 'no ISR bits with MSI-X');
  d.pci.device.setLinkUp(false);
  assert.equal(d.msi.at(-1), [0xfee02000, 0x42], 'link change: config vector 2');
  const status = d.r(d.configOffset() + 6, 2);
  assert.is(status & 1, 0, 'status shows the link down');
  // A masked vector is held pending and delivered on unmask.
  msix.writeTable(2 * 16 + 12, 4, 1);
  const before = d.msi.length;
  d.pci.device.setLinkUp(true);
  assert.is(d.msi.length, before);
  assert.is(msix.readPba(0, 1) & 4, 4, 'pending bit 2');
  msix.writeTable(2 * 16 + 12, 4, 0);
  assert.is(d.msi.length, before + 1);
});

test('legacy: config space — MAC writable, other fields ignored; bad accesses read as ones', () => {
  const [a] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const d = new LegacyDriver(a);
  d.init(WANTED);
  const cfg = d.configOffset();
  d.w(cfg + 0, 4, 0x44332202);
  d.w(cfg + 4, 2, 0x6655);
  assert.equal(Array.from(d.mac()), [0x02, 0x22, 0x33, 0x44, 0x55, 0x66]);
  d.w(cfg + 6, 2, 0);
  assert.is(d.r(cfg + 6, 2), 1, 'status is read-only');
  d.w(cfg + 10, 2, 9000);
  assert.is(d.r(cfg + 10, 2), 1500, 'mtu is read-only');
  assert.is(d.r(cfg + 8, 2), 1, 'max_virtqueue_pairs');
  const bad = d.pci.badAccesses;
  assert.is(d.r(1, 1), 0xff, 'no register at offset 1');
  assert.is(d.r(LEGACY_HOST_FEATURES, 2), 0xffff, 'wrong size');
  assert.is(d.r(cfg + 11, 2), 0xffff, 'past the config space');
  d.w(LEGACY_HOST_FEATURES, 4, 0);
  d.w(LEGACY_QUEUE_NUM, 2, 4);
  d.w(LEGACY_QUEUE_NOTIFY, 2, 9);
  d.w(LEGACY_STATUS, 3, 1);
  assert.is(d.pci.badAccesses, bad + 7);
  assert.is(d.r(LEGACY_QUEUE_NUM, 2), 1024);
  // A reset brings the configured MAC back and forgets the queues.
  d.w(LEGACY_STATUS, 1, 0);
  assert.equal(Array.from(d.mac()), [2, 0, 0, 0, 0, 1]);
  d.w(LEGACY_QUEUE_SEL, 2, 0);
  assert.is(d.r(LEGACY_QUEUE_PFN, 4), 0);
  assert.is(d.r(LEGACY_GUEST_FEATURES, 4), 0);
  assert.is(d.r(LEGACY_STATUS, 1), 0);
});

test('legacy: no buffers are used before DRIVER_OK; a kick then is held until DRIVER_OK', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const d = new LegacyDriver(a);
  d.w(LEGACY_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  d.features = d.r(LEGACY_HOST_FEATURES, 4) & WANTED;
  d.w(LEGACY_GUEST_FEATURES, 4, d.features);
  const tx = new MockDriver({ memory: new GuestMemory([d.memory.regions[1]!]), queueSize: 1024, ringAddr: TX_RING });
  tx.setFeatures(BigInt(d.features));
  tx.onKick = () => d.w(LEGACY_QUEUE_NOTIFY, 2, 1);
  d.w(LEGACY_QUEUE_SEL, 2, 1);
  d.w(LEGACY_QUEUE_PFN, 4, TX_RING / 4096);
  b.setCap(0n, 0);
  tx.postAndKick({ readable: [new Uint8Array(12), makeFrame(100, 3)] });
  assert.is(tx.pendingUsed(), 0, 'nothing used before DRIVER_OK');
  d.w(LEGACY_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
  assert.is(tx.pendingUsed(), 1);
  const f = new Uint8Array(b.peekRecvLen());
  b.recv([f], 1);
  assert.is(frameSeq(f), 3);
});

test('legacy: snapshot and restore of transport and device resume traffic exactly', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const d = new LegacyDriver(a);
  d.init(WANTED);
  b.setCap(0n, 0);
  for (let i = 0; i < 5; i++) d.tx.postAndKick({ readable: [new Uint8Array(12), makeFrame(100, i)] });
  for (let i = 5; i < 10; i++) d.tx.post({ readable: [new Uint8Array(12), makeFrame(100, i)] });
  await d.pci.device.pause();
  const snap = JSON.parse(JSON.stringify(d.pci.snapshot()));
  // A new device and transport over the same guest memory and backend.
  const device2 = new VirtioNetDevice({ backend: a, mac: '02:00:00:00:00:01' });
  device2.memory = d.memory;
  const pci2 = new LegacyVirtioPci(device2, { setIntx: (l) => (d.intx = l) });
  pci2.restore(snap);
  assert.is(pci2.read(LEGACY_STATUS, 1), d.r(LEGACY_STATUS, 1));
  assert.is(pci2.read(LEGACY_GUEST_FEATURES, 4), d.r(LEGACY_GUEST_FEATURES, 4));
  pci2.write(LEGACY_QUEUE_SEL, 2, 1);
  assert.is(pci2.read(LEGACY_QUEUE_PFN, 4), TX_RING / 4096);
  d.tx.onKick = () => pci2.write(LEGACY_QUEUE_NOTIFY, 2, 1);
  device2.resume();
  const seqs: number[] = [];
  while (b.peekRecvLen() > 0) {
    const f = new Uint8Array(b.peekRecvLen());
    b.recv([f], 1);
    seqs.push(frameSeq(f));
  }
  assert.equal(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.is(d.tx.takeAllUsed().length, 10);
});

test.run();
