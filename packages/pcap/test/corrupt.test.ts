import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { CaptureDecoder, CaptureWriter, MemorySink, PcapFormatError, decodeAll, type CapturedPacket } from '@netbe/pcap';
import { Bytes, block, concat, epb, frame, idb, opb, pcapHeader, pcapRecord, shb, spb, u32opt } from './fixtures';

/** Decodes, returning the packets read before the error and the error. */
function decodeUntilError(bytes: Uint8Array, chunk = 1 << 16): { packets: number; error?: PcapFormatError; capacity: number; steps: number } {
  const d = new CaptureDecoder({ readSize: 1024 });
  let packets = 0;
  let fed = 0;
  let steps = 0;
  try {
    for (;;) {
      if (++steps > 4 * bytes.length + 1000) throw new Error('decoder made no progress');
      const r = d.next();
      if (r) packets++;
      else if (d.done) break;
      else if (fed < bytes.length) fed += d.feed(bytes.subarray(0, Math.min(bytes.length, fed + chunk)), fed);
      else d.finish();
    }
  } catch (e) {
    if (!(e instanceof PcapFormatError)) throw e;
    assert.throws(() => d.next(), (again: unknown) => again === e, 'the error is sticky');
    return { packets, error: e, capacity: d.bufferCapacity, steps };
  }
  return { packets, capacity: d.bufferCapacity, steps };
}

function expectError(bytes: Uint8Array, packets: number, offset: number, message: RegExp): void {
  const r = decodeUntilError(bytes);
  assert.ok(r.error, `expected an error, decoded ${r.packets} packets`);
  assert.is(r.packets, packets, 'packets before the damage are delivered');
  assert.is(r.error!.offset, offset, `offset in "${r.error!.message}"`);
  assert.match(r.error!.message, message);
  assert.match(r.error!.message, new RegExp(`at byte offset ${offset}\\)`));
}

const f60 = frame(60, 1);
const goodPcap = concat(pcapHeader(), pcapRecord(f60, 1, 2), pcapRecord(f60, 3, 4));
const goodNg = concat(shb(), idb(1, 0), epb(0, 0, 1, f60), epb(0, 0, 2, f60));

test('zero-length file and short headers', () => {
  expectError(new Uint8Array(0), 0, 0, /empty file/);
  expectError(goodPcap.subarray(0, 3), 0, 0, /truncated file header/);
  expectError(goodPcap.subarray(0, 20), 0, 0, /truncated pcap file header/);
  expectError(goodNg.subarray(0, 10), 0, 0, /truncated section header block/);
  expectError(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 1, 2, 3, 4), 0, 0, /not a pcap or pcapng file \(magic 0x7f454c46\)/);
  expectError(pcapHeader({ major: 3 }), 0, 4, /unsupported pcap version 3\.4/);
});

test('classic pcap: truncated records, caplen beyond snaplen or 256 KiB', () => {
  expectError(goodPcap.subarray(0, 24 + 76 + 10), 1, 100, /truncated packet record header/);
  expectError(goodPcap.subarray(0, 24 + 76 + 16 + 59), 1, 100, /truncated packet record: needs 76 bytes, the file has 75 left/);
  expectError(concat(pcapHeader({ snap: 50 }), pcapRecord(f60, 1, 2)), 0, 32, /captured length 60 exceeds the snapshot length 50/);
  const huge = concat(pcapHeader({ snap: 0xffffffff }), new Bytes().u32(1).u32(0).u32(262145).u32(262145).build(), new Uint8Array(100));
  const r = decodeUntilError(huge);
  assert.match(r.error!.message, /captured length 262145 exceeds the limit of 262144/);
  assert.ok(r.capacity <= 1024, 'nothing was allocated for the record');
  // A record claiming the maximum in a small file allocates in proportion to the bytes present.
  const lying = concat(pcapHeader({ snap: 0 }), new Bytes().u32(1).u32(0).u32(262144).u32(262144).build(), new Uint8Array(3000));
  const l = decodeUntilError(lying);
  assert.match(l.error!.message, /truncated packet record/);
  assert.ok(l.capacity <= 2 * lying.length, `capacity ${l.capacity}`);
});

test('pcapng: block lengths that lie', () => {
  const prefix = concat(shb(), idb(1, 0), epb(0, 0, 1, f60));
  const at = prefix.length;
  const withLength = (type: number, length: number, tail = 64): Uint8Array => concat(prefix, new Bytes().u32(type).u32(length).build(), new Uint8Array(tail));
  expectError(withLength(6, 8), 1, at + 4, /block length 8 is less than 12/);
  expectError(withLength(6, 30), 1, at + 4, /block length 30 is not a multiple of 4/);
  expectError(withLength(6, 0xfffffff0), 1, at + 4, /block length 4294967280 exceeds the limit of 1048576/);
  expectError(withLength(6, 4096), 1, at, /truncated block: needs 4096 bytes/);
  expectError(withLength(0x99, 4096), 1, at, /truncated block: its length runs past the end of the file/);
  expectError(withLength(6, 16, 8), 1, at + 4, /enhanced packet block length 16 is less than 32/);
  // Trailing length differs from the leading one.
  const bad = epb(0, 0, 1, f60);
  new DataView(bad.buffer).setUint32(bad.length - 4, 96, true);
  expectError(concat(prefix, bad), 1, at + bad.length - 4, /trailing block length 96 differs from the leading/);
  // Captured length larger than the block, and larger than the interface's snaplen.
  const over = epb(0, 0, 1, f60);
  new DataView(over.buffer).setUint32(20, 200, true);
  expectError(concat(prefix, over), 1, at + 20, /captured length 200 exceeds the block's 60 bytes/);
  expectError(concat(shb(), idb(1, 40), epb(0, 0, 1, f60)), 0, 48 + 20, /exceeds the snapshot length 40/);
  expectError(concat(shb(), idb(1, 0), epb(3, 0, 1, f60)), 0, 48 + 8, /interface id 3 is not less than the 1 interfaces/);
  expectError(concat(shb(), spb(60, f60)), 0, 28, /interface id 0 is not less than the 0 interfaces/);
  expectError(concat(shb(), idb(1, 0), opb(1, 0, 1, f60)), 0, 48 + 8, /interface id 1/);
  // An option that runs past its block.
  const opt = epb(0, 0, 1, f60, [u32opt(2, 1)]);
  new DataView(opt.buffer).setUint16(28 + 60 + 2, 200, true);
  expectError(concat(prefix, opt), 1, at + 28 + 60, /option 2 of length 200 runs past the end of its block/);
  // A byte-order magic that is neither.
  const shbBad = shb();
  new DataView(shbBad.buffer).setUint32(8, 0x11223344, true);
  expectError(shbBad, 0, 8, /bad byte-order magic/);
  // A file whose first block is not an SHB cannot be told apart from a non-capture file.
  expectError(idb(1, 0), 0, 0, /not a pcap or pcapng file/);
});

test('pcapng: unknown and custom blocks are skipped, whatever their size', () => {
  const bigUnknown = block(0x0eadbeef, (b) => b.raw(new Uint8Array(3 << 20)));
  const file = concat(shb(), idb(1, 0), bigUnknown, block(0x40000bad, (b) => b.u32(1)), epb(0, 0, 1, f60));
  const r = decodeUntilError(file, 4096);
  assert.is(r.error, undefined);
  assert.is(r.packets, 1);
  assert.ok(r.capacity <= 4096, `skipping buffers nothing (capacity ${r.capacity})`);
});

test('garbage after a valid section', () => {
  const garbage = new TextEncoder().encode('this is not a block at all!!');
  // "this" is an unknown block type whose length " is " runs past the end.
  expectError(concat(goodNg, garbage), 2, goodNg.length, /truncated block: its length runs past the end of the file/);
  expectError(concat(goodNg, Uint8Array.of(6, 0, 0, 0, 13, 0, 0, 0)), 2, goodNg.length + 4, /block length 13 is not a multiple of 4/);
  expectError(concat(goodNg, garbage.subarray(0, 5)), 2, goodNg.length, /truncated block header/);
  expectError(concat(goodPcap, garbage.subarray(0, 9)), 2, goodPcap.length, /truncated packet record header/);
});

// ---- fuzzing: mutated valid files never crash, hang or over-allocate ----------------------------

function validFiles(): Uint8Array[] {
  const files: Uint8Array[] = [goodPcap, concat(pcapHeader({ le: false, nano: true }), pcapRecord(frame(100, 2), 5, 6, { le: false })), goodNg];
  for (const format of ['pcap', 'pcapng'] as const) {
    const sink = new MemorySink();
    const w = new CaptureWriter(sink, { format, nanosecond: true, interfaces: format === 'pcapng' ? [{ name: 'a' }, { name: 'b' }] : undefined });
    for (let i = 0; i < 12; i++) w.write(frame(20 + i * 37, i), { seconds: i, nanos: i, interfaceId: format === 'pcapng' ? i % 2 : 0, direction: 1 });
    void w.flush();
    files.push(sink.bytes());
  }
  files.push(concat(shb(false), idb(1, 0, [], false), block(4, (b) => b.u32(0), [], false), spb(60, f60, false), opb(0, 0, 1, f60, [], false), shb(), idb(1, 9000), epb(0, 1, 2, frame(900, 3))));
  return files;
}

function checkMutant(bytes: Uint8Array, chunk: number): CapturedPacket[] | PcapFormatError {
  const r = decodeUntilError(bytes, chunk);
  assert.ok(r.capacity <= Math.max(1024, 2 * bytes.length), `capacity ${r.capacity} for a ${bytes.length}-byte file`);
  if (r.error) {
    assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length, `offset ${r.error.offset} within the file`);
    return r.error;
  }
  return decodeAll(bytes);
}

test('fuzz: fast-check mutations (byte flips, 32-bit overwrites, truncation, chunking)', async () => {
  const files = validFiles();
  await new Promise<void>((resolve) => setTimeout(resolve, 0)); // let the writers' flushes land
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: files.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.boolean()), { minLength: 1, maxLength: 6 }),
      fc.option(fc.nat()),
      fc.integer({ min: 1, max: 300 }),
      (which, edits, cut, chunk) => {
        const src = files[which]!;
        const bytes = src.slice(0, cut === null ? src.length : cut % (src.length + 1));
        for (const [pos, value, wide] of edits) {
          if (bytes.length === 0) break;
          const p = pos % bytes.length;
          if (wide && p + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(p, (value * 0x01010101 + pos) >>> 0, (pos & 1) === 0);
          else bytes[p] = value;
        }
        checkMutant(bytes, chunk);
      },
    ),
    { numRuns: 3000, seed: 0x5eed },
  );
});

test('fuzz: seeded mutation of every length field to boundary values', () => {
  const boundary = [0, 1, 3, 4, 8, 11, 12, 13, 16, 28, 31, 32, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, 262143, 262144, 262145, 1 << 20, (1 << 20) + 4];
  let cases = 0;
  for (const file of validFiles()) {
    for (let pos = 0; pos + 4 <= file.length; pos += 4) {
      for (const v of boundary) {
        const bytes = file.slice();
        new DataView(bytes.buffer).setUint32(pos, v, true);
        checkMutant(bytes, 97);
        cases++;
      }
    }
  }
  assert.ok(cases > 1000);
});

test.run();
