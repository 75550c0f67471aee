/**
 * Property: over random mixes of guest receive chains (runs of one-buffer writable chains, as
 * Linux posts them with MRG_RXBUF, interrupted by multi-descriptor, indirect, device-readable and
 * too-short chains) and random frame sizes, the device's used ring is exactly what a plain walk
 * of virtio 1.2 §5.1.6.3-4 predicts: which chains each frame fills and with how many bytes, which
 * are returned empty, which frames are dropped, and nothing else. The fast run path of the
 * receiver must be indistinguishable from chain-by-chain processing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createMemoryPair } from '@netbe/backend-memory';
import { VIRTIO_NET_F_MRG_RXBUF } from '@netbe/core';
import { TestGuest, makeFrame } from '@netbe/virtio-net/testing';
import { MAX_FRAME_SEGMENTS } from '../src/constants';

const runs = Number(process.env.NETBE_FUZZ_RUNS ?? 400);

/** A chain as posted, in avail order. */
interface Posted {
  head: number;
  readable: boolean;
  /** Lengths of its writable descriptors. */
  segments: number[];
}

type ChainKind =
  | { kind: 'single'; len: number }
  | { kind: 'multi'; lens: number[]; segmentSize: number; indirect: boolean }
  | { kind: 'readable'; writable: number };

const chainArb: fc.Arbitrary<ChainKind> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('single' as const), len: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 12, max: 4096 }), fc.constantFrom(12, 2048, 4096)) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('multi' as const), lens: fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 3 }), segmentSize: fc.integer({ min: 1, max: 1500 }), indirect: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('readable' as const), writable: fc.integer({ min: 0, max: 2000 }) }) },
);

/** The writable descriptor lengths MockDriver makes of `lens` split at `segmentSize`. */
function split(lens: number[], segmentSize: number): number[] {
  const out: number[] = [];
  for (const len of lens) for (let at = 0; at < len; at += segmentSize) out.push(Math.min(segmentSize, len - at));
  return out;
}

/** Segments left of a chain once the first `skip` bytes are cut (IovTrimmer). */
function trimmedCount(segments: number[], skip: number): number {
  let i = 0;
  let left = skip;
  while (i < segments.length && left > 0 && segments[i]! <= left) left -= segments[i++]!;
  return segments.length - i;
}

interface Expected {
  used: Array<[number, number]>;
  drops: { wrongDirection: number; tooShort: number; tooBig: number; malformedChain: number };
  /** Frame index → number of chains it filled. */
  delivered: Array<{ frame: number; chains: number }>;
}

/** The walk of the avail ring the receive path must match, frame after frame. */
function expectedRx(chains: Posted[], frames: number[], hdr: number, prepend: number, merge: boolean): Expected {
  const e: Expected = { used: [], drops: { wrongDirection: 0, tooShort: 0, tooBig: 0, malformedChain: 0 }, delivered: [] };
  const total = (c: Posted): number => c.segments.reduce((s, n) => s + n, 0);
  let cursor = 0;
  const giveBack = (taken: Posted[], returnable: boolean): void => {
    if (returnable) cursor -= taken.length;
    else
      for (const c of taken) {
        e.used.push([c.head, 0]);
        e.drops.malformedChain++;
      }
  };
  frames: for (let f = 0; f < frames.length; f++) {
    const need = frames[f]! + hdr;
    const taken: Posted[] = [];
    let segs = 0;
    let bytes = 0;
    let returnable = true;
    let fits = true;
    while (bytes < need) {
      if (cursor === chains.length) {
        // No buffers: the device stalls with this frame still in the backend.
        giveBack(taken, returnable);
        break frames;
      }
      const c = chains[cursor++]!;
      if (c.readable || total(c) < hdr) {
        e.used.push([c.head, 0]);
        if (c.readable) e.drops.wrongDirection++;
        else e.drops.tooShort++;
        if (taken.length > 0) returnable = false;
        continue;
      }
      if (segs + c.segments.length > MAX_FRAME_SEGMENTS) {
        taken.push(c);
        fits = false;
        break;
      }
      segs += taken.length === 0 ? trimmedCount(c.segments, prepend) : c.segments.length;
      taken.push(c);
      bytes += total(c);
      if (!merge) {
        if (bytes < need) fits = false;
        break;
      }
    }
    if (!fits) {
      e.drops.tooBig++;
      giveBack(taken, returnable);
      continue;
    }
    let left = need;
    for (const c of taken) {
      const len = merge ? Math.min(total(c), left) : need;
      e.used.push([c.head, len]);
      left -= len;
    }
    e.delivered.push({ frame: f, chains: taken.length });
  }
  return e;
}

test('property: the RX used ring matches a chain-by-chain walk for any mix of guest buffers', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(chainArb, { minLength: 1, maxLength: 48 }),
      fc.array(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 14, max: 20000 }) }, { weight: 1, arbitrary: fc.integer({ min: 14, max: 65536 }) }), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      fc.boolean(),
      async (kinds, sizes, mergeable, backendHeader) => {
        const [dev, peer] = createMemoryPair({ vnetHdr: backendHeader, caps: 0n, queue: 64 });
        peer.setCap(0n, 0);
        const g = new TestGuest({ backend: dev, memoryPerQueue: 4 << 20, ringSize: 256, wanted: mergeable ? undefined : ~VIRTIO_NET_F_MRG_RXBUF });
        const hdr = g.headerLength;
        const prepend = hdr - dev.vnetHdrLen;
        const d = g.rxDriver;
        const posted: Posted[] = [];
        for (const k of kinds) {
          let head: number;
          let p: Omit<Posted, 'head'>;
          if (k.kind === 'single') {
            head = d.post({ writable: [k.len] }, false);
            p = { readable: false, segments: [k.len] };
          } else if (k.kind === 'multi') {
            // At most 64 descriptors per chain (a longer chain is a malformed one, not this test's subject).
            const segmentSize = Math.max(k.segmentSize, Math.ceil(k.lens.reduce((s, n) => s + n, 0) / 64));
            head = d.post({ writable: k.lens, segmentSize, indirect: k.indirect }, false);
            p = { readable: false, segments: split(k.lens, segmentSize) };
          } else {
            head = d.post({ readable: [new Uint8Array(16)], writable: k.writable > 0 ? [k.writable] : [] }, false);
            p = { readable: true, segments: k.writable > 0 ? [k.writable] : [] };
          }
          if (head >= 0) posted.push({ head, ...p });
        }
        d.publish();
        d.kick(true);
        const frames = sizes.map((n, i) => makeFrame(n, i));
        for (const f of frames) peer.send([f], 1);
        for (let i = 0; i < 50 && (dev.peekRecvLen() > 0 || i < 2); i++) await new Promise((r) => setImmediate(r));

        const want = expectedRx(posted, sizes, hdr, prepend, mergeable);
        const used = d.takeAllUsed();
        assert.equal(used.map((u) => [u.id, u.len]), want.used, 'used ring');
        const rx = g.device.stats.rx;
        assert.is(rx.frames, want.delivered.length, 'frames delivered');
        for (const r of ['wrongDirection', 'tooShort', 'tooBig', 'malformedChain'] as const) assert.is(rx.drops[r], want.drops[r], r);
        // The bytes: each delivered frame is header + frame across its chains, num_buffers = chains.
        let at = 0;
        for (const { frame, chains } of want.delivered) {
          while (used[at]!.len === 0) at++;
          const parts = used.slice(at, at + chains);
          at += chains;
          const bytes = new Uint8Array(parts.reduce((s, u) => s + u.written.length, 0));
          let o = 0;
          for (const u of parts) {
            bytes.set(u.written, o);
            o += u.written.length;
          }
          assert.is(bytes.length, hdr + sizes[frame]!);
          if (hdr === 12) assert.is(bytes[10]! | (bytes[11]! << 8), chains, 'num_buffers');
          assert.equal(bytes.subarray(hdr), frames[frame], `frame ${frame}`);
        }
        assert.ok(g.guardsIntact());
        await dev.close();
        await peer.close();
      },
    ),
    { numRuns: runs },
  );
});

test.run();
