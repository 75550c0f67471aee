import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, createBackend } from '@netbe/core';
import '@netbe/backend-memory';
import { CaptureBackend, captureBackend, captureToFile, createBackendWithCapture } from '@netbe/backend-pcap';
import { decodeAll, MemorySink } from '@netbe/pcap';
import { assertRejects, hasCommand, prerequisite, testWhen, waitFor } from '@netbe/test-utils';
import { ManualClock, ethFrame } from './helpers';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'netbe-capture-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('both directions recorded with direction flags; the vnet header is not written', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const sink = new MemorySink();
  const inner = await createBackend('memory,mode=loopback');
  const cap = captureBackend(inner, { sink, clock, flushIntervalMs: 100 });
  cap.setCap(0n, 12);
  assert.is(cap.vnetHdrLen, 12);
  const hdr = new Uint8Array(12).fill(0xaa);
  const frames = [ethFrame(1, 60), ethFrame(2, 1514)];
  for (const f of frames) {
    assert.is(cap.send([hdr, f], 2), 12 + f.length);
    clock.advance(1);
  }
  for (const f of frames) {
    const buf = new Uint8Array(cap.peekRecvLen() + 100);
    const n = cap.recv([buf.subarray(0, 5), buf.subarray(5)], 2);
    assert.is(n, 12 + f.length);
    assert.equal([...buf.subarray(12, n)], [...f]);
    clock.advance(1);
  }
  assert.is(cap.recv([new Uint8Array(100)], 1), 0, 'nothing more: nothing recorded');
  clock.advance(100);
  await waitFor(() => sink.length > 0, 2000, 'the timer flush');
  await cap.close();
  const got = decodeAll(sink.bytes());
  assert.equal(
    got.map((p) => [p.data.length, p.direction, p.seconds, p.nanos / 1e6]),
    [
      [60, 2, 1_700_000_000, 0],
      [1514, 2, 1_700_000_000, 1],
      [60, 1, 1_700_000_000, 2],
      [1514, 1, 1_700_000_000, 3],
    ],
  );
  assert.equal([...got[3]!.data], [...frames[1]!]);
  assert.is(cap.capturedFrames, 4);
  assert.equal(cap.stats, inner.stats);
});

test('a failed send or receive is not recorded; the inner verbs are unchanged', async () => {
  const sink = new MemorySink();
  const inner = await createBackend('memory,mode=sink');
  const cap = captureBackend(inner, { sink });
  assert.is(cap.send([new Uint8Array(0)], 1), 0);
  assert.is(cap.send([ethFrame(1)], 1), 60);
  assert.is(cap.recv([new Uint8Array(100)], 1), 0);
  await cap.close();
  await cap.close();
  assert.is(decodeAll(sink.bytes()).length, 1);
  assert.is(cap.send([ethFrame(1)], 1), 0, 'after close the inner backend returns 0');
});

testWhen(test, prerequisite([hasCommand('tshark'), 'tshark is not installed']), 'createBackendWithCapture: capture= on any config; tshark reads directions', async () => {
  const file = join(dir, 'lo.pcapng');
  const b = await createBackendWithCapture(`memory,mode=loopback,capture=${file}`);
  assert.ok(b instanceof CaptureBackend);
  for (let i = 0; i < 5; i++) b.send([ethFrame(i, 100 + i)], 1);
  for (let i = 0; i < 5; i++) b.recv([new Uint8Array(2000)], 1);
  await b.close();
  const { stdout, stderr } = await run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.packet_flags_direction']);
  assert.equal(stderr.split('\n').filter((l) => l && !l.startsWith('Running as user')), []);
  const rows = stdout.trim().split('\n').map((l) => l.split('\t').map(Number));
  assert.equal(rows, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4].map((i, k) => [100 + i, k < 5 ? 2 : 1]));
  assert.is(decodeAll(readFileSync(file)).length, 10);

  const plain = await createBackendWithCapture('memory,mode=sink');
  assert.not.ok(plain instanceof CaptureBackend);
  await plain.close();
  const e = (await assertRejects(createBackendWithCapture('memory,capture=a,capture=b'), ConfigError)) as ConfigError;
  assert.is(e.option, 'capture');
  assert.is(((await assertRejects(createBackendWithCapture('memory,capture'), ConfigError)) as ConfigError).option, 'capture');
  const inner = await createBackend('memory');
  assert.is(((await assertRejects(captureToFile(inner, join(dir, 'no/dir/x.pcapng')), ConfigError)) as ConfigError).option, 'capture');
  await inner.close();
  const pcapFile = join(dir, 'lo.pcap');
  const p = await createBackendWithCapture(`memory,capture=${pcapFile}`);
  p.send([ethFrame(1)], 1);
  await p.close();
  assert.is(readFileSync(pcapFile).readUInt32LE(0), 0xa1b23c4d, '.pcap: a nanosecond pcap (no directions)');
});

test.run();
