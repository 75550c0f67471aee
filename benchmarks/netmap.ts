/**
 * netmap backend, ring logic only, on the in-process double of the kernel side (no /dev/netmap
 * needed): frames/s through NetmapBackend.send (gather into TX slots, publish head) and
 * peekRecvLen+recv (walk RX slots, scatter), at 64 B and 1500 B, each against a memcpy of the
 * same bytes measured in the same run. The "kernel" here completes TX slots and republishes RX
 * slots at each sync without copying, so the figures are the TypeScript ring code's own cost.
 * A third case goes through the double's VALE switch (which copies like the kernel does).
 */
import type { Harness } from './harness';
import type { NetmapPort, NetmapSystem } from '@netbe/netmap-bindings';
import { NetmapBackend } from '@netbe/backend-netmap';
import { FakeNetmap, type FakePort } from '@netbe/backend-netmap/testing';

const SLOTS = 1024;
const BATCH = 256;

/** A port whose syncs do only what the kernel must to keep the rings moving. */
function ringOnlySystem(frameLen: number): NetmapSystem {
  const fake = new FakeNetmap({ slots: SLOTS, bufSize: 2048 });
  fake.addNic('bench0');
  return {
    openPort(registration): NetmapPort {
      const port = fake.openPort(registration) as FakePort;
      const tx = port.txKrings[0]!;
      const rx = port.rxKrings[0]!;
      for (let s = 0; s < SLOTS; s++) {
        rx.buffer(s)!.fill(0x5a, 0, frameLen);
        rx.setLen(s, frameLen);
        rx.setFlags(s, 0);
      }
      rx.tail = SLOTS - 1;
      return Object.assign(Object.create(port) as FakePort, {
        txSync: () => void (tx.tail = (tx.head + SLOTS - 1) % SLOTS), // every sent slot completed
        rxSync: () => void (rx.tail = (rx.head + SLOTS - 1) % SLOTS), // released slots arrive again
      });
    },
  };
}

export default async function (h: Harness): Promise<void> {
  for (const len of [64, 1500]) {
    const ref = h.memcpy(len);
    const frame = new Uint8Array(len).fill(0xa5);
    const iov = [frame];

    const tx = NetmapBackend.open('netmap:bench0', ringOnlySystem(len));
    const send = h.measure(() => {
      for (let i = 0; i < BATCH; i++) tx.send(iov, 1);
    }, BATCH, { bytesPerOp: len });
    if (tx.stats.txDrops !== 0) h.note(`send-${len}: ${tx.stats.txDrops} drops`);
    h.reportBoth(`send-${len}`, send, 'memcpy', ref);
    await tx.close();

    const rx = NetmapBackend.open('netmap:bench0', ringOnlySystem(len));
    const into = [new Uint8Array(2048)];
    let bad = 0;
    const recv = h.measure(() => {
      for (let i = 0; i < BATCH; i++) if (rx.peekRecvLen() !== len || rx.recv(into, 1) !== len) bad++;
    }, BATCH, { bytesPerOp: len });
    if (bad !== 0) h.note(`recv-${len}: ${bad} misses`);
    h.reportBoth(`recv-${len}`, recv, 'memcpy', ref);
    await rx.close();

    const sw = new FakeNetmap({ slots: SLOTS, bufSize: 2048 });
    const a = NetmapBackend.open('vale0:a', sw);
    const b = NetmapBackend.open('vale0:b', sw);
    const vale = h.measure(() => {
      for (let i = 0; i < 64; i++) {
        a.send(iov, 1);
        if (b.recv(into, 1) !== len) bad++;
      }
    }, 64, { bytesPerOp: len });
    if (bad !== 0) h.note(`vale-${len}: ${bad} misses`);
    h.reportBoth(`vale-roundtrip-${len}`, vale, 'memcpy', ref);
    await Promise.all([a.close(), b.close()]);
  }
}
