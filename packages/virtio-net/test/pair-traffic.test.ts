import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryPair } from '@netbe/backend-memory';
import { VIRTIO_NET_F_MRG_RXBUF } from '@netbe/core';
import { waitFor } from '@netbe/test-utils';
import { F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1 } from '../src/features';
import { TestGuest, equalBytes, frameSeq, makeFrame, type ReceivedFrame } from '@netbe/virtio-net/testing';

interface Variant {
  name: string;
  /** Feature bits to take away from what the device offers. */
  without: bigint;
  legacy: boolean;
  /** Backend carries the virtio-net header (equal lengths) or not (device adapts). */
  backendHeader: boolean;
  indirect: boolean;
}

const variants: Variant[] = [];
for (const mode of ['mrg', 'v1-no-mrg', 'legacy-10'] as const) {
  for (const backendHeader of [true, false]) {
    for (const indirect of [false, true]) {
      for (const eventIdx of [true, false]) {
        let without = 0n;
        if (mode !== 'mrg') without |= VIRTIO_NET_F_MRG_RXBUF;
        if (!indirect) without |= F_INDIRECT_DESC;
        if (!eventIdx) without |= F_EVENT_IDX;
        variants.push({
          name: `${mode} backendHeader=${backendHeader} indirect=${indirect} eventIdx=${eventIdx}`,
          without,
          legacy: mode === 'legacy-10',
          backendHeader,
          indirect,
        });
      }
    }
  }
}

const SIZES = [60, 64, 1514, 4000, 9014, 65535 + 14 - 14, 65536];

function pair(v: Variant): [TestGuest, TestGuest] {
  const [a, b] = createMemoryPair({ vnetHdr: v.backendHeader, caps: 0n, queue: 64 });
  const ga = new TestGuest({ backend: a, wanted: ~v.without, legacy: v.legacy });
  const gb = new TestGuest({ backend: b, wanted: ~v.without, legacy: v.legacy });
  return [ga, gb];
}

/** Sends `frames` from `from` to `to`, receiving as it goes, and returns what arrived. */
async function exchange(from: TestGuest, to: TestGuest, frames: Uint8Array[], v: Variant): Promise<ReceivedFrame[]> {
  const mergeable = (to.features & VIRTIO_NET_F_MRG_RXBUF) !== 0n;
  // Without MRG_RXBUF every buffer must hold header + the largest frame (virtio 1.2 §5.1.6.3.1).
  const rxSize = mergeable ? 2048 : 65536 + 12;
  const got: ReceivedFrame[] = [];
  to.postRx(mergeable ? 200 : 40, rxSize, { indirect: v.indirect, segmentSize: v.indirect ? 1024 : undefined });
  for (const f of frames) {
    assert.ok(from.send(f, { indirect: v.indirect, segmentSize: v.indirect ? 700 : undefined }) >= 0, 'TX chain posted');
    from.completeTx();
    await waitFor(() => {
      got.push(...to.receive());
      if (to.rxDriver.outstanding < 8) to.postRx(mergeable ? 64 : 8, rxSize, { indirect: v.indirect });
      return got.length >= frames.indexOf(f) + 1;
    }, 5000, `frame ${frames.indexOf(f)} delivered`, 1);
  }
  return got;
}

for (const v of variants) {
  test(`memory pair: ${v.name}`, async () => {
    const [ga, gb] = pair(v);
    const hdr = v.legacy ? 10 : 12;
    assert.is(ga.headerLength, hdr);
    assert.is(ga.device.backendHeaderLength, v.backendHeader ? hdr : 0);
    assert.is((ga.features & F_VERSION_1) !== 0n, !v.legacy);
    const framesAB = SIZES.map((s, i) => makeFrame(s, i));
    const framesBA = SIZES.map((s, i) => makeFrame(s, 1000 + i)).reverse();
    const ab = await exchange(ga, gb, framesAB, v);
    const ba = await exchange(gb, ga, framesBA, v);
    for (const [sent, got] of [
      [framesAB, ab],
      [framesBA, ba],
    ] as const) {
      assert.is(got.length, sent.length);
      for (let i = 0; i < sent.length; i++) {
        assert.ok(equalBytes(got[i]!.frame, sent[i]!), `frame ${i} (${sent[i]!.length} B, seq ${frameSeq(sent[i]!)}) arrived intact`);
        assert.ok(got[i]!.header.subarray(0, 10).every((b) => b === 0), 'a zero header travels as zeros');
      }
    }
    for (const g of [ga, gb]) {
      assert.is(g.device.stats.tx.frames, SIZES.length);
      assert.is(g.device.stats.rx.frames, SIZES.length);
      assert.is(g.device.stats.tx.bytes, SIZES.reduce((s, n) => s + n, 0));
      assert.ok(g.guardsIntact(), 'nothing written outside guest memory');
    }
    assert.ok(ga.interrupts[0]! > 0, 'RX interrupts were sent');
  });
}

test('mergeable: a 64 KiB frame spans many 2 KiB buffers and num_buffers says how many', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const ga = new TestGuest({ backend: a });
  const gb = new TestGuest({ backend: b });
  gb.postRx(100, 2048);
  const frame = makeFrame(65536, 7);
  ga.send(frame, { segmentSize: 4096 });
  let got: ReceivedFrame[] = [];
  await waitFor(() => (got = got.concat(gb.receive())).length === 1);
  assert.is(got[0]!.buffers, Math.ceil((65536 + 12) / 2048));
  assert.ok(equalBytes(got[0]!.frame, frame));
});

test.run();
