import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CaptureDecoder,
  CaptureReader,
  bytesSource,
  decodeAll,
  DIRECTION_INBOUND,
  DIRECTION_OUTBOUND,
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
  BLOCK_EPB,
  BLOCK_OPB,
  BLOCK_SPB,
} from '@netbe/pcap';
import { concat, epb, frame, idb, opb, pcapHeader, pcapRecord, shb, spb, split64, textopt, u32opt, u8opt, block, Bytes } from './fixtures';

test('classic pcap, microseconds, little-endian: header and records', () => {
  const f1 = frame(60, 1);
  const f2 = frame(1514, 2);
  const file = concat(pcapHeader({ snap: 262144 }), pcapRecord(f1, 1700000000, 123456), pcapRecord(f2, 1700000001, 999999, { orig: 2000 }));
  const d = new CaptureDecoder();
  d.feed(file);
  d.finish();
  const r1 = d.next()!;
  assert.is(d.format, 'pcap');
  assert.equal(d.pcapHeader, { littleEndian: true, nanosecond: false, versionMajor: 2, versionMinor: 4, snapLength: 262144, linkType: 1, fcsLength: undefined });
  assert.equal([...r1.data], [...f1]);
  assert.is(r1.seconds, 1700000000);
  assert.is(r1.nanos, 123456000);
  assert.is(r1.offset, 24);
  const r2 = d.next()!;
  assert.is(r2.data.length, 1514);
  assert.is(r2.originalLength, 2000);
  assert.is(r2.nanos, 999999000);
  assert.is(r2.offset, 24 + 16 + 60);
  assert.is(d.next(), null);
  assert.ok(d.done);
});

test('classic pcap, nanoseconds, big-endian; link types reported as written', () => {
  const f = frame(40, 3);
  const file = concat(pcapHeader({ le: false, nano: true, link: LINKTYPE_RAW }), pcapRecord(f, 1700000002, 123456789, { le: false }));
  const [p] = decodeAll(file);
  assert.is(p!.seconds, 1700000002);
  assert.is(p!.nanos, 123456789);
  assert.is(p!.linkType, LINKTYPE_RAW);
  assert.equal([...p!.data], [...f]);
  const other = decodeAll(concat(pcapHeader({ link: LINKTYPE_LINUX_SLL2 | 0x04000000 | (2 << 28) }), pcapRecord(f, 1, 0)));
  assert.is(other[0]!.linkType, LINKTYPE_LINUX_SLL2);
  const d = new CaptureDecoder();
  d.feed(pcapHeader({ link: 1 | 0x04000000 | (2 << 28) }));
  d.next();
  assert.is(d.pcapHeader!.fcsLength, 4);
});

test('pcapng: sections of both byte orders, interfaces with options, EPB flags, SPB, OPB, skipped blocks', () => {
  const a = frame(60, 4);
  const b = frame(1500, 5);
  const c = frame(100, 6);
  const ns = split64(1700000003123456789n);
  const us = split64(1700000004000001n);
  const file = concat(
    shb(true, [textopt(4, 'netbe-test')]),
    idb(LINKTYPE_ETHERNET, 0, [textopt(2, 'eth0'), u8opt(9, 9)]),
    idb(LINKTYPE_RAW, 65535, [textopt(2, 'raw0')]),
    block(4, (x) => x.u16(1).u16(8).raw([127, 0, 0, 1, 0x61, 0x62, 0x63, 0]).u16(0).u16(0)), // NRB
    epb(0, ns[0], ns[1], a, [u32opt(2, DIRECTION_INBOUND)]),
    block(0x00000bad, (x) => x.u32(32473).raw([1, 2, 3, 4, 5])), // custom
    epb(1, us[0], us[1], c, [u32opt(2, DIRECTION_OUTBOUND), textopt(1, 'a comment')]),
    block(5, (x) => x.u32(0).u32(0).u32(0)), // ISB
    block(0x12345678, (x) => x.raw(new Uint8Array(40))), // unknown
    shb(false),
    idb(LINKTYPE_ETHERNET, 0, [], false),
    epb(0, ns[0], ns[1], b, [], false),
    spb(1500, b, false),
    opb(0, us[0], us[1], c, [u32opt(2, DIRECTION_INBOUND, false)], false),
  );
  const d = new CaptureDecoder({ readSize: 64 });
  const got: Array<Record<string, unknown>> = [];
  let fed = 0;
  for (;;) {
    const r = d.next();
    if (r) {
      got.push({ len: r.data.length, first: r.data[0], sec: r.seconds, ns: r.nanos, if: r.interface.id, section: r.interface.section, link: r.interface.linkType, dir: r.direction, type: r.blockType, ts: r.hasTimestamp });
    } else if (d.done) break;
    else if (fed < file.length) fed += d.feed(file.subarray(fed, fed + 7)); // awkward 7-byte chunks
    else d.finish();
  }
  assert.equal(got, [
    { len: 60, first: a[0], sec: 1700000003, ns: 123456789, if: 0, section: 0, link: 1, dir: 1, type: BLOCK_EPB, ts: true },
    { len: 100, first: c[0], sec: 1700000004, ns: 1000, if: 1, section: 0, link: LINKTYPE_RAW, dir: 2, type: BLOCK_EPB, ts: true },
    // Section 2 (big-endian): interface 0 has the default microsecond resolution.
    { len: 1500, first: b[0], sec: 1700000003123, ns: 456789000, if: 0, section: 1, link: 1, dir: 0, type: BLOCK_EPB, ts: true },
    { len: 1500, first: b[0], sec: 0, ns: 0, if: 0, section: 1, link: 1, dir: 0, type: BLOCK_SPB, ts: false },
    { len: 100, first: c[0], sec: 1700000004, ns: 1000, if: 0, section: 1, link: 1, dir: 1, type: BLOCK_OPB, ts: true },
  ]);
  assert.is(d.skippedBlocks, 4);
  assert.is(d.sections.length, 2);
  assert.is(d.sections[0]!.application, 'netbe-test');
  assert.is(d.sections[1]!.littleEndian, false);
  assert.ok(d.bufferCapacity <= 4096, `buffer grew to ${d.bufferCapacity}`);
});

test('pcapng timestamps: if_tsresol binary and 10^-12, if_tsoffset', () => {
  const f = frame(20, 7);
  const bin = split64((1700000005n << 20n) + (1n << 19n)); // 2^-20 units: .5 s
  const pico = split64(17000000_500000000123n); // 10^-12 units (2^64 of them is only 213 days); 123 ps truncate
  const off = new Bytes(true).u32(100).u32(0).build(); // if_tsoffset 100 s (little-endian int64)
  const file = concat(shb(), idb(1, 0, [u8opt(9, 0x80 | 20)]), idb(1, 0, [u8opt(9, 12)]), idb(1, 0, [[14, off]]), epb(0, bin[0], bin[1], f), epb(1, pico[0], pico[1], f), epb(2, 0, 5, f));
  const got = decodeAll(file).map((p) => [p.seconds, p.nanos]);
  assert.equal(got, [
    [1700000005, 500000000],
    [17000000, 500000000],
    [100, 5000],
  ]);
});

test('CaptureReader over a source: readHeader, read, nextBuffered/fill', async () => {
  const frames = Array.from({ length: 200 }, (_, i) => frame(60 + i, i));
  const file = concat(pcapHeader(), ...frames.map((f, i) => pcapRecord(f, 1000 + i, i)));
  const reader = new CaptureReader(bytesSource(file, 333), { readSize: 512 });
  await reader.readHeader();
  assert.is(reader.format, 'pcap');
  let n = 0;
  for (let r; (r = await reader.read()); n++) {
    assert.is(r.data.length, 60 + n);
    assert.is(r.seconds, 1000 + n);
    assert.is(r.data[5], frames[n]![5]);
  }
  assert.is(n, 200);
  assert.ok(reader.done);
  // The synchronous fast path sees the same records.
  const again = new CaptureReader(bytesSource(file, 4096));
  let m = 0;
  while (!again.done) {
    const r = again.nextBuffered();
    if (r) m++;
    else if (!again.done) await again.fill();
  }
  assert.is(m, 200);
});

test('reading is incremental: a 30 MB file goes through a 64 KiB buffer', async () => {
  const big = frame(1500, 1);
  let made = 0;
  const header = pcapHeader({ snap: 262144 });
  const record = pcapRecord(big, 1, 2);
  // A source that produces the file as it is read: the file never exists whole in memory.
  const total = header.length + 20000 * record.length;
  const source = {
    pos: 0,
    read(into: Uint8Array): number {
      let n = 0;
      while (n < into.length && this.pos < total) {
        const inHeader = this.pos < header.length;
        const src = inHeader ? header : record;
        const at = inHeader ? this.pos : (this.pos - header.length) % record.length;
        const k = Math.min(into.length - n, src.length - at, total - this.pos);
        into.set(src.subarray(at, at + k), n);
        n += k;
        this.pos += k;
      }
      made += n;
      return n;
    },
  };
  const reader = new CaptureReader(source);
  let count = 0;
  for (let r; (r = await reader.read()); count++) if (count === 19999) assert.is(r.data[100], big[100]);
  assert.is(count, 20000);
  assert.is(made, total);
  assert.is(reader.decoder.bufferCapacity, 65536);
});

test('readHeader on pcapng keeps the first packet for read()', async () => {
  const f = frame(64, 9);
  const reader = new CaptureReader(bytesSource(concat(shb(), idb(1, 0), epb(0, 0, 1, f))));
  await reader.readHeader();
  assert.is(reader.format, 'pcapng');
  assert.is(reader.sections.length, 1);
  const r = await reader.read();
  assert.is(r!.data.length, 64);
  assert.is(await reader.read(), null);
});

test.run();
