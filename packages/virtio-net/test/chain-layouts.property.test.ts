import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createMemoryPair } from '@netbe/backend-memory';
import { VIRTIO_NET_F_MRG_RXBUF } from '@netbe/core';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '@netbe/virtio';
import type { RawDescriptor } from '@netbe/virtio/testing';
import { DROP_REASONS, totalDrops } from '../src/index';
import { TestGuest, equalBytes, makeFrame } from '@netbe/virtio-net/testing';

/** One guest buffer of a random TX chain. */
interface Segment {
  len: number;
  writable: boolean;
  outside: boolean;
}
interface TxChain {
  segments: Segment[];
  indirect: boolean;
  badHead: boolean;
}

const segment = fc.record({
  len: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 3000 })),
  writable: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  outside: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
});
const txChain = fc.record({
  segments: fc.array(segment, { minLength: 1, maxLength: 8 }),
  indirect: fc.boolean(),
  badHead: fc.constantFrom(false, false, false, false, false, false, false, false, false, false, false, true),
});

type Outcome = 'sent' | 'malformed' | 'wrongDirection' | 'tooShort' | 'headerOnly';

/** What the device must do with a chain (virtio 1.2 §2.7.4.2, §2.7.5; bhyve proctx + our checks). */
function expected(c: TxChain, hdr: number): Outcome {
  if (c.badHead || c.segments.some((s) => s.outside)) return 'malformed';
  let sawWritable = false;
  for (const s of c.segments) {
    if (s.writable) sawWritable = true;
    else if (sawWritable) return 'malformed';
  }
  if (sawWritable) return 'wrongDirection';
  const total = c.segments.reduce((n, s) => n + s.len, 0);
  if (total < hdr) return 'tooShort';
  if (total === hdr) return 'headerOnly';
  return 'sent';
}

test('property: random TX chain layouts are sent intact or dropped under the right reason', () => {
  fc.assert(
    fc.property(fc.array(txChain, { minLength: 1, maxLength: 12 }), fc.boolean(), (chains, backendHeader) => {
      const [dev, peer] = createMemoryPair({ vnetHdr: backendHeader, caps: 0n, queue: 64 });
      peer.setCap(0n, 0);
      const g = new TestGuest({ backend: dev, memoryPerQueue: 1 << 20, ringSize: 128 });
      const d = g.txDriver;
      const hdr = g.headerLength;
      let nextDesc = 0;
      const wantFrames: Uint8Array[] = [];
      const outcomes: Outcome[] = [];
      let seed = 1;
      for (const c of chains) {
        const entries: RawDescriptor[] = [];
        const bytes: Uint8Array[] = [];
        for (const s of c.segments) {
          const data = new Uint8Array(s.len);
          for (let i = 0; i < s.len; i++) data[i] = (seed++ * 13) & 0xff;
          const addr = s.outside ? 0x10000000000 : d.allocBuffer(Math.max(1, s.len));
          if (!s.outside) d.memory.write(addr, data);
          entries.push({ addr, len: s.len, flags: s.writable ? VIRTQ_DESC_F_WRITE : 0, next: 0 });
          bytes.push(data);
        }
        let head: number;
        if (c.indirect) {
          entries.forEach((e, i) => {
            if (i + 1 < entries.length) {
              e.flags |= VIRTQ_DESC_F_NEXT;
              e.next = i + 1;
            }
          });
          const table = d.writeIndirectTable(entries);
          head = nextDesc++;
          d.writeDescriptor(head, { addr: table, len: entries.length * 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
        } else {
          head = nextDesc;
          entries.forEach((e, i) => {
            if (i + 1 < entries.length) {
              e.flags |= VIRTQ_DESC_F_NEXT;
              e.next = nextDesc + i + 1;
            }
            d.writeDescriptor(nextDesc + i, e);
          });
          nextDesc += entries.length;
        }
        d.pushHead(c.badHead ? 40000 : head, false);
        const outcome = expected(c, hdr);
        outcomes.push(outcome);
        if (outcome === 'sent') {
          const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
          let at = 0;
          for (const b of bytes) {
            all.set(b, at);
            at += b.length;
          }
          wantFrames.push(all.subarray(hdr));
        }
      }
      d.publish();
      d.kick(true);
      const tx = g.device.stats.tx;
      const count = (o: Outcome): number => outcomes.filter((x) => x === o).length;
      assert.is(tx.frames, count('sent'));
      assert.is(tx.drops.malformedChain, count('malformed'));
      assert.is(tx.drops.wrongDirection, count('wrongDirection'));
      assert.is(tx.drops.tooShort, count('tooShort'));
      assert.is(tx.drops.headerOnly, count('headerOnly'));
      const validHeads = chains.filter((c) => !c.badHead).length;
      assert.is(d.usedRingIdx(), validHeads, 'every chain with a valid head came back once');
      for (const want of wantFrames) {
        const n = peer.peekRecvLen();
        assert.is(n, want.length);
        const got = new Uint8Array(n);
        peer.recv([got], 1);
        assert.ok(equalBytes(got, want), 'frame bytes intact');
      }
      assert.is(peer.peekRecvLen(), 0);
      assert.ok(g.guardsIntact());
    }),
    { numRuns: 150 },
  );
});

/** RX: random guest buffer layouts and frame sizes; frames arrive intact, in order, or are counted. */
test('property: random RX buffer layouts deliver frames intact and in order or count them', async () => {
  const layout = fc.record({
    writable: fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 1, maxLength: 4 }),
    readable: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 0, 8),
    segmentSize: fc.option(fc.integer({ min: 1, max: 1500 }), { nil: undefined }),
    indirect: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(layout, { minLength: 1, maxLength: 24 }), fc.array(fc.integer({ min: 14, max: 20000 }), { minLength: 1, maxLength: 10 }), fc.boolean(), fc.boolean(), async (buffers, sizes, mergeable, backendHeader) => {
      const [dev, peer] = createMemoryPair({ vnetHdr: backendHeader, caps: 0n, queue: 64 });
      peer.setCap(0n, 0);
      const g = new TestGuest({ backend: dev, memoryPerQueue: 2 << 20, ringSize: 256, wanted: mergeable ? undefined : ~VIRTIO_NET_F_MRG_RXBUF });
      for (const b of buffers) {
        const writable = b.writable.filter((n) => n > 0);
        if (writable.length === 0 && b.readable === 0) continue;
        g.rxDriver.post({ writable, readable: b.readable > 0 ? [new Uint8Array(b.readable)] : [], segmentSize: b.segmentSize, indirect: b.indirect });
      }
      g.rxDriver.kick(true);
      const frames = sizes.map((n, i) => makeFrame(n, i));
      for (const f of frames) peer.send([f], 1);
      // Let the device run until it either delivered everything or stalled for want of buffers.
      for (let i = 0; i < 50 && (dev.peekRecvLen() > 0 || i < 2); i++) await new Promise((r) => setImmediate(r));
      const rx = g.device.stats.rx;
      const got = g.receive();
      assert.is(got.length, rx.frames);
      // Delivered frames are the sent ones, in order, minus the ones counted as too big.
      let at = 0;
      for (const f of got) {
        while (at < frames.length && !equalBytes(frames[at]!, f.frame)) at++;
        assert.ok(at < frames.length, 'a delivered frame matches a sent one, in order');
        at++;
      }
      const left = frames.length - rx.frames - rx.drops.tooBig;
      assert.ok(left >= 0);
      if (left > 0) assert.ok(rx.rxStalls > 0 || dev.peekRecvLen() > 0, 'undelivered frames wait in the backend');
      for (const r of DROP_REASONS) if (r !== 'tooBig' && r !== 'tooShort' && r !== 'wrongDirection' && r !== 'malformedChain') assert.is(rx.drops[r], 0, r);
      assert.ok(totalDrops(rx) >= rx.drops.tooBig);
      assert.ok(g.guardsIntact());
      await dev.close();
      await peer.close();
    }),
    { numRuns: 80 },
  );
});

test.run();
