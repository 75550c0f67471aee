/**
 * pcap/pcapng read and write throughput for 64- and 1500-byte frames, against a plain file read
 * (or write) of the same bytes through the same API (FileHandle, 64 KiB reads / 256 KiB writes),
 * measured in the same run. Also the decoder alone over bytes in memory, against memcpy.
 */
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureDecoder, CaptureReader, CaptureWriter, MemorySink, type CaptureFormat } from '@netbe/pcap';
import { openFileSink, openFileSource } from '@netbe/pcap/node';
import type { Harness } from './harness';

const READ_CHUNK = 1 << 16;
const WRITE_CHUNK = 1 << 18;

function makeFile(format: CaptureFormat, frameSize: number, count: number): Uint8Array {
  const sink = new MemorySink();
  const w = new CaptureWriter(sink, { format, flushBytes: Infinity, maxPendingBytes: 1 << 30 });
  const frame = new Uint8Array(frameSize).fill(0x5a);
  for (let i = 0; i < count; i++) w.write(frame, { seconds: 1_700_000_000 + (i >> 10), nanos: (i & 1023) * 1000 });
  void w.flush();
  return sink.bytes();
}

async function plainRead(path: string, buf: Uint8Array): Promise<number> {
  const fh = await open(path, 'r');
  let total = 0;
  try {
    for (let n; (n = (await fh.read(buf, 0, buf.length, null)).bytesRead) > 0; ) total += n;
  } finally {
    await fh.close();
  }
  return total;
}

async function plainWrite(path: string, bytes: Uint8Array): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (let at = 0; at < bytes.length; at += WRITE_CHUNK) await fh.write(bytes, at, Math.min(WRITE_CHUNK, bytes.length - at));
  } finally {
    await fh.close();
  }
}

export default async function (h: Harness): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'netbe-bench-pcap-'));
  try {
    for (const frameSize of [64, 1500]) {
      const count = frameSize === 64 ? 200_000 : 20_000;
      const frame = new Uint8Array(frameSize).fill(0xa5);
      for (const format of ['pcap', 'pcapng'] as const) {
        const bytes = makeFile(format, frameSize, count);
        const path = join(dir, `bench-${frameSize}.${format}`);
        writeFileSync(path, bytes);
        const size = statSync(path).size;
        const buf = new Uint8Array(READ_CHUNK);

        // Read: every record decoded (length and first byte touched), vs reading the file.
        const read = await h.measureAsync(async () => {
          const reader = new CaptureReader(await openFileSource(path), { readSize: READ_CHUNK });
          let n = 0;
          let sum = 0;
          for (;;) {
            const r = reader.nextBuffered();
            if (r) {
              n++;
              sum += r.bytes[r.dataOffset]!;
            } else if (reader.done) break;
            else await reader.fill();
          }
          await reader.close();
          if (n !== count || sum !== count * 0x5a) throw new Error(`read ${n} frames`);
        }, count, { bytesPerOp: frameSize });
        const readRef = await h.measureAsync(async () => {
          if ((await plainRead(path, buf)) !== size) throw new Error('short read');
        }, count, { bytesPerOp: frameSize });
        h.reportBoth(`read-${format}-${frameSize}`, read, 'plain file read', readRef);

        // Write: count frames through CaptureWriter to a file, vs writing the same bytes.
        const out = join(dir, `out-${frameSize}.${format}`);
        const write = await h.measureAsync(async () => {
          const w = new CaptureWriter(await openFileSink(out), { format, flushBytes: WRITE_CHUNK, maxPendingBytes: 1 << 26 });
          for (let i = 0; i < count; i++) {
            w.write(frame, { seconds: 1_700_000_000, nanos: i });
            if (w.pendingBytes >= WRITE_CHUNK) await w.flush();
          }
          await w.close();
          if (w.dropped !== 0) throw new Error(`${w.dropped} dropped`);
        }, count, { bytesPerOp: frameSize });
        const writeRef = await h.measureAsync(() => plainWrite(out, bytes), count, { bytesPerOp: frameSize });
        h.reportBoth(`write-${format}-${frameSize}`, write, 'plain file write', writeRef);

        // The decoder alone over bytes in memory (feed + next), vs memcpy of the same bytes.
        const decode = h.measure(() => {
          const d = new CaptureDecoder({ readSize: READ_CHUNK });
          let fed = 0;
          let n = 0;
          for (;;) {
            const r = d.next();
            if (r) n++;
            else if (d.done) break;
            else if (fed < bytes.length) fed += d.feed(bytes, fed);
            else d.finish();
          }
          if (n !== count) throw new Error(`decoded ${n}`);
        }, count, { bytesPerOp: frameSize });
        const copy = new Uint8Array(bytes.length);
        const memcpy = h.measure(() => copy.set(bytes), count, { bytesPerOp: frameSize });
        h.reportBoth(`decode-${format}-${frameSize}`, decode, 'memcpy', memcpy);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
