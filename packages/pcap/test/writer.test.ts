import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { CaptureWriter, MemorySink, decodeAll, timeToUnits, unitsToTime, NANOSECOND_RESOLUTION, MICROSECOND_RESOLUTION, type ByteSink } from '@netbe/pcap';
import { frame } from './fixtures';

for (const format of ['pcap', 'pcapng'] as const) {
  for (const littleEndian of [true, false]) {
    for (const nanosecond of [false, true]) {
      test(`round trip ${format} ${littleEndian ? 'LE' : 'BE'} ${nanosecond ? 'ns' : 'us'}`, async () => {
        const sink = new MemorySink();
        const w = new CaptureWriter(sink, { format, littleEndian, nanosecond, interfaces: [{ name: 'guest0' }] });
        const frames = [frame(64, 1), frame(1514, 2), frame(1, 3), frame(9000, 4)];
        frames.forEach((f, i) => assert.ok(w.write(f, { seconds: 1700000000 + i, nanos: 123456789, direction: (i % 2 ? 2 : 1) as 1 | 2 })));
        await w.close();
        assert.ok(sink.closed);
        const got = decodeAll(sink.bytes());
        assert.is(got.length, 4);
        got.forEach((p, i) => {
          assert.equal([...p.data], [...frames[i]!]);
          assert.is(p.seconds, 1700000000 + i);
          assert.is(p.nanos, nanosecond ? 123456789 : 123456000);
          assert.is(p.direction, format === 'pcapng' ? (i % 2 ? 2 : 1) : 0);
        });
      });
    }
  }
}

test('writeIov gathers across segments and skips a vnet header; snaplen truncates', async () => {
  const sink = new MemorySink();
  const w = new CaptureWriter(sink, { format: 'pcapng', snapLength: 100 });
  const f = frame(150, 5);
  const hdr = new Uint8Array(12).fill(0xee);
  const iov = [hdr.subarray(0, 5), concat2(hdr.subarray(5), f.subarray(0, 10)), f.subarray(10, 90), f.subarray(90)];
  w.writeIov(iov, iov.length, 12, { seconds: 1, nanos: 0 });
  w.writeIov(iov, 2, 12, { seconds: 2, nanos: 0 }); // only the first 10 frame bytes
  w.writeIov(iov, iov.length, 12, { seconds: 3, nanos: 0 }, 12 + 33); // a received frame of 33 bytes in a bigger iov
  await w.flush();
  const [a, b, c] = decodeAll(sink.bytes());
  assert.equal([...c!.data], [...f.subarray(0, 33)]);
  assert.is(c!.originalLength, 33);
  assert.is(a!.data.length, 100);
  assert.is(a!.originalLength, 150);
  assert.equal([...a!.data], [...f.subarray(0, 100)]);
  assert.equal([...b!.data], [...f.subarray(0, 10)]);
});

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

test('a slow sink: bounded pending bytes, drops counted, nothing lost that was accepted', async () => {
  let release: () => void = () => {};
  const written: Uint8Array[] = [];
  const slow: ByteSink = {
    write: (bytes) =>
      new Promise<void>((resolve) => {
        written.push(bytes.slice());
        release = resolve;
      }),
  };
  const w = new CaptureWriter(slow, { format: 'pcap', snapLength: 2000, flushBytes: 4096, maxPendingBytes: 64 * 1024 });
  let accepted = 0;
  for (let i = 0; i < 200; i++) if (w.write(frame(1000, i), { seconds: i, nanos: 0 })) accepted++;
  assert.ok(w.dropped > 0, 'some frames dropped while the sink was stuck');
  assert.is(accepted + w.dropped, 200);
  assert.ok(w.pendingBytes <= 64 * 1024);
  release();
  const closing = w.close();
  for (let i = 0; i < 10 && written.length < 3; i++) {
    await new Promise((r) => setTimeout(r, 1));
    release();
  }
  release();
  await closing;
  const all = new Uint8Array(written.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of written) {
    all.set(b, at);
    at += b.length;
  }
  assert.is(decodeAll(all).length, accepted);
});

test('a failing sink: the error is reported by flush and later writes are drops', async () => {
  const w = new CaptureWriter({ write: () => Promise.reject(new Error('disk full')) }, { format: 'pcapng' });
  w.write(frame(60, 1), { seconds: 0, nanos: 0 });
  let error: unknown;
  await w.flush().catch((e) => (error = e));
  assert.match(String(error), /disk full/);
  assert.not.ok(w.write(frame(60, 1), { seconds: 0, nanos: 0 }));
  assert.is(w.dropped, 1);
});

test('timestamp units round-trip (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 999_999_999 }), (seconds, nanos) => {
      const units = { high: 0, low: 0 };
      const out = { seconds: 0, nanos: 0 };
      timeToUnits(seconds, nanos, 1e9, units);
      assert.is((BigInt(units.high) << 32n) | BigInt(units.low), BigInt(seconds) * 1_000_000_000n + BigInt(nanos));
      unitsToTime(units.high, units.low, NANOSECOND_RESOLUTION, out);
      assert.equal(out, { seconds, nanos });
      timeToUnits(seconds, nanos, 1e6, units);
      unitsToTime(units.high, units.low, MICROSECOND_RESOLUTION, out);
      assert.equal(out, { seconds, nanos: Math.floor(nanos / 1000) * 1000 });
    }),
    { numRuns: 2000 },
  );
});

test.run();
