import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createBackend, type BackendListener } from '@netbe/core';
import { PcapBackend, createPcapBackend, type ReplaySummary } from '@netbe/backend-pcap';
import { bytesSource, decodeAll, MemorySink, PcapFormatError, LINKTYPE_RAW } from '@netbe/pcap';
import { assertRejects, waitFor, withTimeout } from '@netbe/test-utils';
import { ManualClock, captureFile, ethFrame } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'netbe-backend-pcap-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Receives every frame the backend has ready now, like a device with room for all. */
function drain(b: PcapBackend, out: Uint8Array[]): void {
  for (let len; (len = b.peekRecvLen()) > 0; ) {
    const buf = new Uint8Array(len);
    assert.is(b.recv([buf], 1), len);
    out.push(buf);
  }
}

/** Attaches a listener that drains on every rxReady and resolves when the input ended. */
async function receiveAll(b: PcapBackend): Promise<{ frames: Uint8Array[]; summary: ReplaySummary }> {
  const frames: Uint8Array[] = [];
  b.attach({ rxReady: () => drain(b, frames) });
  b.rxEnable();
  const summary = await withTimeout(5000, b.inputDone, 'the replay');
  return { frames, summary };
}

const frames10 = Array.from({ length: 10 }, (_, i) => ({ data: ethFrame(i, 60 + i * 100), meta: { seconds: 1000 + i, nanos: i * 1000 } }));

for (const format of ['pcap', 'pcapng'] as const) {
  test(`replays a ${format} file in order, as fast as the guest takes frames`, async () => {
    const file = captureFile(format, frames10);
    const b = new PcapBackend({ name: 'pcap', input: { open: () => bytesSource(file, 100) } });
    const { frames, summary } = await receiveAll(b);
    assert.equal(frames.map((f) => [...f]), frames10.map((f) => [...f.data]));
    assert.equal(summary, { frames: 10, passes: 1, skipped: 0 });
    assert.is(b.stats.rxFrames, 10);
    assert.is(b.stats.rxBytes, frames10.reduce((n, f) => n + f.data.length, 0));
    await b.close();
  });
}

test('loop=3 replays three passes; loop=0 keeps going until closed', async () => {
  const file = captureFile('pcap', frames10.slice(0, 4));
  let opens = 0;
  const b = new PcapBackend({ name: 'pcap', input: { open: () => (opens++, bytesSource(file)), loop: 3 } });
  const { frames, summary } = await receiveAll(b);
  assert.is(frames.length, 12);
  assert.is(opens, 3);
  assert.equal(summary, { frames: 12, passes: 3, skipped: 0 });
  assert.equal([...frames[4]!], [...frames10[0]!.data]);
  await b.close();

  const forever = new PcapBackend({ name: 'pcap', input: { open: () => bytesSource(file), loop: 0 } });
  const got: Uint8Array[] = [];
  forever.attach({ rxReady: () => drain(forever, got) });
  forever.rxEnable();
  await waitFor(() => got.length >= 40, 5000, '10 passes');
  await forever.close();
  const err = await assertRejects(forever.inputDone, 'ERR_CLOSED');
  assert.match(err.message, /closed while the input was being replayed/);
});

test('RX gating: nothing is delivered while disabled; too-small buffers and rxDiscard count drops', async () => {
  const file = captureFile('pcapng', frames10.slice(0, 3));
  const b = new PcapBackend({ name: 'pcap', input: { open: () => bytesSource(file) } });
  let calls = 0;
  b.attach({ rxReady: () => calls++ });
  await waitFor(() => b.peekRecvLen() > 0, 2000, 'the first frame');
  await new Promise((r) => setTimeout(r, 20));
  assert.is(calls, 0, 'no rxReady while RX is disabled');
  b.rxEnable();
  await waitFor(() => calls > 0, 2000, 'rxReady after rxEnable');
  assert.is(b.recv([new Uint8Array(10)], 1), -1);
  assert.is(b.stats.rxDrops, 1);
  await waitFor(() => b.peekRecvLen() > 0, 2000, 'the second frame');
  assert.is(b.rxDiscard(), 160);
  assert.is(b.stats.rxDrops, 2);
  await waitFor(() => b.peekRecvLen() > 0, 2000, 'the third frame');
  const split = [new Uint8Array(100), new Uint8Array(200)];
  assert.is(b.recv(split, 2), 260);
  assert.equal([...split[0]!, ...split[1]!.subarray(0, 160)], [...frames10[2]!.data]);
  await b.inputDone;
  await b.close();
  assert.is(b.peekRecvLen(), 0);
  assert.is(b.recv(split, 2), 0);
  assert.is(b.send([frames10[0]!.data], 1), 0);
});

test('pace=original: frames become ready at their relative timestamps (injected clock)', async () => {
  const clock = new ManualClock();
  const timed = [0, 0.5, 2.25, 2.25, 10].map((s, i) => ({ data: ethFrame(i), meta: { seconds: 5000 + Math.floor(s), nanos: (s % 1) * 1e9 } }));
  const file = captureFile('pcapng', timed);
  const b = new PcapBackend({ name: 'pcap', clock, input: { open: () => bytesSource(file), pace: 'original', loop: 2 } });
  const got: Uint8Array[] = [];
  b.attach({ rxReady: () => drain(b, got) });
  b.rxEnable();
  await waitFor(() => got.length === 1, 2000, 'the first frame at once');
  const settle = () => new Promise((r) => setTimeout(r, 5));
  clock.advance(499);
  await settle();
  assert.is(got.length, 1, 'not before 500 ms');
  clock.advance(1);
  await waitFor(() => got.length === 2, 2000, 'the second frame at 500 ms');
  clock.advance(1750);
  await waitFor(() => got.length === 4, 2000, 'two frames at 2250 ms');
  clock.advance(7749);
  await settle();
  assert.is(got.length, 4);
  clock.advance(1);
  // The second pass starts where the first ended: its first frame is due at once.
  await waitFor(() => got.length === 6, 2000, 'last frame of pass 1 and first of pass 2');
  clock.advance(500);
  await waitFor(() => got.length === 7, 2000, 'pass 2 keeps the pace');
  clock.advance(10_000);
  await waitFor(() => got.length === 10, 2000, 'the rest of pass 2');
  assert.equal((await b.inputDone).passes, 2);
  await b.close();
});

test('non-Ethernet link types and runts are skipped, not delivered', async () => {
  const raw = captureFile('pcap', frames10.slice(0, 3), LINKTYPE_RAW);
  const b = new PcapBackend({ name: 'pcap', input: { open: () => bytesSource(raw) } });
  const { frames, summary } = await receiveAll(b);
  assert.is(frames.length, 0);
  assert.is(summary.skipped, 3);
  await b.close();
  const runt = captureFile('pcap', [{ data: new Uint8Array(10), meta: { seconds: 1, nanos: 0 } }, frames10[1]!]);
  const c = new PcapBackend({ name: 'pcap', input: { open: () => bytesSource(runt) } });
  const r = await receiveAll(c);
  assert.is(r.frames.length, 1);
  assert.is(r.summary.skipped, 1);
  await c.close();
});

test('a damaged input: the frames before the damage arrive, then an error naming the offset', async () => {
  const file = captureFile('pcap', frames10);
  // Damage the captured length of the 6th record.
  let at = 24;
  for (let i = 0; i < 5; i++) at += 16 + frames10[i]!.data.length;
  const damaged = file.slice();
  new DataView(damaged.buffer).setUint32(at + 8, 0x7fffffff, true);
  let told: Error | undefined;
  const b = new PcapBackend({ name: 'pcap', input: { open: () => bytesSource(damaged, 64) }, onInputEnd: (e) => (told = e) });
  const got: Uint8Array[] = [];
  b.attach({ rxReady: () => drain(b, got) });
  b.rxEnable();
  const err = await assertRejects(b.inputDone, PcapFormatError);
  assert.is((err as PcapFormatError).offset, at + 8);
  assert.match(err.message, new RegExp(`captured length 2147483647 exceeds the limit of 262144 \\(at byte offset ${at + 8}\\)`));
  assert.is(told, err);
  assert.is(b.error, err);
  assert.is(got.length, 5);
  assert.equal([...got[4]!], [...frames10[4]!.data]);
  await b.close();
  // Truncation mid-record names the record's offset.
  const cut = new PcapBackend({ name: 'pcap', input: { open: () => bytesSource(file.subarray(0, at + 20)) } });
  cut.attach({ rxReady: () => drain(cut, []) });
  cut.rxEnable();
  const e2 = await assertRejects(cut.inputDone, PcapFormatError);
  assert.match(e2.message, new RegExp(`truncated packet record: needs ${16 + frames10[5]!.data.length} bytes, the file has 20 left \\(at byte offset ${at}\\)`));
  await cut.close();
});

test('out: sent frames are recorded with timestamps; flushed by the timer and on close', async () => {
  const clock = new ManualClock(1_700_000_123_456.75);
  const sink = new MemorySink();
  const b = new PcapBackend({ name: 'pcap', clock, output: { sink, format: 'pcapng', nanosecond: true, flushIntervalMs: 250 } });
  const f = ethFrame(7, 100);
  assert.is(b.send([f.subarray(0, 30), f.subarray(30)], 2), 100);
  assert.is(b.send([], 0), 0, 'an empty frame is a drop');
  assert.is(b.stats.txDrops, 1);
  assert.is(sink.length, 0, 'nothing is written before the flush interval');
  clock.advance(250);
  await waitFor(() => sink.length > 0, 2000, 'the timer flush');
  let got = decodeAll(sink.bytes());
  assert.is(got.length, 1);
  assert.equal([...got[0]!.data], [...f]);
  assert.equal([got[0]!.seconds, got[0]!.nanos, got[0]!.direction], [1_700_000_123, 456_750_000, 2]);
  clock.advance(1);
  b.send([f], 1);
  await b.close();
  assert.ok(sink.closed);
  got = decodeAll(sink.bytes());
  assert.is(got.length, 2);
  assert.is(b.stats.txFrames, 2);
  assert.is(clock.pending, 0, 'no timer left after close');
});

test('without out, sent frames are counted drops; caps: none, header length stays 0', async () => {
  const b = new PcapBackend({ name: 'pcap', input: { open: () => bytesSource(captureFile('pcap', [])) } });
  assert.is(b.send([ethFrame(1)], 1), 0);
  assert.is(b.stats.txDrops, 1);
  assert.is(b.getCap(), 0n);
  b.setCap(0n, 12);
  assert.is(b.vnetHdrLen, 0);
  assert.throws(() => b.setCap(1n, 12), (e: { code?: string }) => e.code === 'ERR_UNSUPPORTED');
  assert.throws(() => b.setCap(0n, 7), (e: { code?: string }) => e.code === 'ERR_UNSUPPORTED');
  const links: boolean[] = [];
  const listener: BackendListener = { rxReady: () => {}, linkChange: (up) => links.push(up) };
  b.attach(listener);
  await b.inputDone;
  await waitFor(() => links.length > 0, 2000, 'link down at the end of an input-only replay');
  assert.equal(links, [false]);
  await b.close();
});

test('config strings through the registry: files, errors naming the option and offset', async () => {
  const inFile = join(dir, 'in.pcap');
  writeFileSync(inFile, captureFile('pcap', frames10));
  const outFile = join(dir, 'out.pcapng');
  const b = (await createBackend(`pcap,in=${inFile},out=${outFile},flush=50`)) as PcapBackend;
  assert.ok(b instanceof PcapBackend);
  const { frames } = await receiveAll(b);
  assert.is(frames.length, 10);
  for (const f of frames) b.send([f], 1);
  await b.close();
  const written = decodeAll(readFileSync(outFile));
  assert.equal(written.map((p) => [...p.data]), frames.map((f) => [...f]));

  const pcapOut = join(dir, 'out.pcap');
  const c = await createBackend(`pcap,out=${pcapOut}`);
  c.send([frames10[0]!.data], 1);
  await c.close();
  assert.is(readFileSync(pcapOut).readUInt32LE(0), 0xa1b2c3d4, '.pcap extension: microsecond pcap');

  const missing = await assertRejects(createBackend(`pcap,in=${join(dir, 'nope.pcap')}`), ConfigError);
  assert.is((missing as ConfigError).option, 'in');
  assert.match(missing.message, /cannot open .*nope\.pcap.*ENOENT/);
  const junk = join(dir, 'junk.pcap');
  writeFileSync(junk, 'hello, this is not a capture file');
  const bad = await assertRejects(createBackend(`pcap,in=${junk}`), ConfigError);
  assert.match(bad.message, /^in: .*junk\.pcap": not a pcap or pcapng file \(magic 0x68656c6c\) \(at byte offset 0\)/);
  const empty = join(dir, 'empty.pcap');
  writeFileSync(empty, '');
  assert.match((await assertRejects(createBackend(`pcap,in=${empty}`), ConfigError)).message, /empty file/);
  const opt = async (spec: string, option: string, re: RegExp) => {
    const e = (await assertRejects(createPcapBackend(spec), ConfigError)) as ConfigError;
    assert.is(e.option, option, spec);
    assert.match(e.message, re);
  };
  await opt('pcap', 'in', /needs in=FILE, out=FILE or both/);
  await opt(`pcap,in=${inFile},pace=slow`, 'pace', /expected one of max, original/);
  await opt(`pcap,in=${inFile},loop=-1`, 'loop', /outside 0\.\./);
  await opt(`pcap,out=${outFile},format=cap`, 'format', /expected one of pcap, pcapng/);
  await opt(`pcap,out=${outFile},pace=max`, 'pace', /applies to in=FILE/);
  await opt(`pcap,in=${inFile},nsec=on`, 'nsec', /applies to out=FILE/);
  await opt(`pcap,out=${join(dir, 'no/such/dir.pcap')}`, 'out', /cannot create/);
  const unknown = (await assertRejects(createBackend(`pcap,in=${inFile},speed=3`), ConfigError)) as ConfigError;
  assert.is(unknown.option, 'speed');
  assert.ok(existsSync(outFile));
});

test('a crash loses at most the last flush interval: SIGKILL after two intervals keeps every frame', async () => {
  const file = join(dir, 'crash.pcapng');
  const child = spawn(process.execPath, ['-C', '@netbe/source', '--import', 'tsx', join(import.meta.dirname, 'fixtures/crash-writer.ts'), file, '20', '100'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await withTimeout(
      20_000,
      new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('sent') && resolve());
        child.on('exit', (code) => reject(new Error(`the writer exited early (${code})`)));
      }),
      'the writer',
    );
    // Two intervals: the timer has flushed. Wait for the bytes, not for a time.
    const framesOnDisk = (): number => {
      try {
        return decodeAll(readFileSync(file)).length;
      } catch {
        return -1; // not written yet (empty, or a write under way)
      }
    };
    await waitFor(() => framesOnDisk() === 20, 5000, 'the timer flush on disk');
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((resolve) => child.once('exit', resolve));
  const frames = decodeAll(readFileSync(file));
  assert.equal(frames.map((p) => p.data.length), Array.from({ length: 20 }, (_, i) => 60 + i));
});

test.run();
