// @timeout 300
/**
 * Interop with the real tools: files written by tcpdump (a bounded capture of UDP to 127.0.0.1
 * on loopback), converted by editcap (pcapng, nanosecond pcap) and concatenated into a
 * two-section pcapng are read with the same frames tshark reports; files netbe writes (every
 * format, both byte orders) are read by tshark with the expected count, lengths, timestamps and
 * directions, and without warnings.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CaptureReader, CaptureWriter, copyRecord, type CapturedPacket, type Direction } from '@netbe/pcap';
import { openFileSink, openFileSource } from '@netbe/pcap/node';
import { hasCommand, isRoot, prerequisite, testWhen, withTimeout } from '@netbe/test-utils';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'netbe-pcap-interop-'));
const tools = prerequisite([hasCommand('tshark'), 'tshark is not installed (apt-get install tshark)'], [hasCommand('editcap'), 'editcap is not installed (apt-get install tshark)']);
const capture = prerequisite([isRoot(), 'capturing on loopback needs root'], [hasCommand('tcpdump'), 'tcpdump is not installed'], [tools.ok, tools.reason]);

interface ToolFrame {
  len: number;
  capLen: number;
  seconds: number;
  nanos: number;
  direction: number | undefined;
}

/** Strips the warning tshark prints when run as root: anything else on stderr is a warning about the file. */
function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Running as user'));
}

async function tsharkFrames(file: string): Promise<ToolFrame[]> {
  const { stdout, stderr } = await run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.time_epoch', '-e', 'frame.packet_flags_direction'], { maxBuffer: 64 << 20 });
  assert.equal(warnings(stderr), [], `tshark warned about ${file}`);
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [len, capLen, epoch, dir] = line.split('\t');
      const [sec, frac = ''] = epoch!.split('.');
      return { len: Number(len), capLen: Number(capLen), seconds: Number(sec), nanos: Number(frac.padEnd(9, '0').slice(0, 9)), direction: dir ? Number(dir) : undefined };
    });
}

async function readWithNetbe(file: string): Promise<CapturedPacket[]> {
  const reader = new CaptureReader(await openFileSource(file));
  const out: CapturedPacket[] = [];
  try {
    for (let r; (r = await reader.read()); ) out.push(copyRecord(r));
  } finally {
    await reader.close();
  }
  return out;
}

async function sameAsTshark(file: string, expectCount?: number): Promise<CapturedPacket[]> {
  const [ours, theirs] = await Promise.all([readWithNetbe(file), tsharkFrames(file)]);
  if (expectCount !== undefined) assert.is(theirs.length, expectCount, `tshark frame count of ${file}`);
  assert.is(ours.length, theirs.length, `frame count of ${file}`);
  ours.forEach((p, i) => {
    const t = theirs[i]!;
    assert.equal([p.originalLength, p.data.length, p.seconds, p.nanos], [t.len, t.capLen, t.seconds, t.nanos], `frame ${i + 1} of ${file}`);
  });
  return ours;
}

/** Captures `count` UDP datagrams to 127.0.0.1 with tcpdump (or tshark) and returns the file. */
async function tcpdumpCapture(name: string, count: number, extra: string[], tool: 'tcpdump' | 'tshark' = 'tcpdump'): Promise<string> {
  const file = join(dir, name);
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const sink = createSocket('udp4');
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const port = sink.address().port;
  const filter = `udp and dst port ${port}`;
  const args = tool === 'tcpdump' ? ['-i', 'lo', '-n', '-U', '-c', String(count), '-w', file, ...extra, filter] : ['-i', 'lo', '-n', '-c', String(count), '-w', file, ...extra, '-f', filter];
  const child = spawn(tool, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let stderr = '';
    await withTimeout(
      10_000,
      new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('listening on') || stderr.includes('Capturing on')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`${tool} exited (${code}) before listening: ${stderr}`)));
      }),
      `${tool} start`,
    );
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))));
    // Sizes from 1 byte to a full 1500-byte MTU frame (1472 bytes of UDP payload), every 10th a
    // bigger datagram that loopback (MTU 65536) carries whole. Sent until the tool has its count
    // (dumpcap may start capturing a moment after it says so); bounded.
    for (let i = 0; i < count * 20 && exitCode === undefined; i++) {
      const size = i % 10 === 9 ? 8000 : 1 + ((i * 97) % 1472);
      await new Promise<void>((resolve, reject) => sock.send(new Uint8Array(size).fill(i), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      if (i >= count) await new Promise((r) => setTimeout(r, 5));
    }
    const code = await withTimeout(10_000, exited, `${tool} exit`);
    assert.is(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    sock.close();
    sink.close();
  }
  return file;
}

let usPcap = '';

testWhen(test, capture, 'tcpdump pcap (microseconds) read like tshark', async () => {
  usPcap = await tcpdumpCapture('tcpdump-us.pcap', 30, []);
  const ours = await sameAsTshark(usPcap, 30);
  assert.ok(ours.every((p) => p.linkType === 1));
});

testWhen(test, capture, 'tcpdump pcap (nanoseconds, snaplen 200) read like tshark', async () => {
  const file = await tcpdumpCapture('tcpdump-ns.pcap', 20, ['--time-stamp-precision', 'nano', '-s', '200']);
  assert.is(readFileSync(file).readUInt32LE(0), 0xa1b23c4d, 'tcpdump wrote the nanosecond magic');
  const ours = await sameAsTshark(file, 20);
  assert.ok(ours.some((p) => p.data.length === 200 && p.originalLength > 200), 'snaplen truncated a frame');
});

testWhen(test, capture, 'editcap conversions: pcapng, nanosecond pcap, comments, two sections', async () => {
  const ng = join(dir, 'editcap.pcapng');
  await run('editcap', ['-F', 'pcapng', usPcap, ng]);
  await sameAsTshark(ng, 30);
  const ns = join(dir, 'editcap-ns.pcap');
  await run('editcap', ['-F', 'nsecpcap', usPcap, ns]);
  assert.is(readFileSync(ns).readUInt32LE(0), 0xa1b23c4d);
  await sameAsTshark(ns, 30);
  // Packet comments are EPB options the reader must step over.
  const commented = join(dir, 'commented.pcapng');
  await run('editcap', ['-F', 'pcapng', '-a', '1:first frame', '-a', '3:third', usPcap, commented]);
  await sameAsTshark(commented, 30);
  // A file of two sections (pcapng allows concatenation).
  const two = join(dir, 'two-sections.pcapng');
  writeFileSync(two, Buffer.concat([readFileSync(ng), readFileSync(commented)]));
  await sameAsTshark(two, 60);
  // Time shift and a snaplen cut by editcap.
  const cut = join(dir, 'cut.pcapng');
  await run('editcap', ['-F', 'pcapng', '-s', '64', '-t', '-1000.25', usPcap, cut]);
  const cutFrames = await sameAsTshark(cut, 30);
  assert.ok(cutFrames.every((p) => p.data.length <= 64));
});

testWhen(test, capture, 'tshark (dumpcap) pcapng capture with its IDB options and statistics blocks', async () => {
  const file = await tcpdumpCapture('tshark.pcapng', 15, [], 'tshark');
  const reader = new CaptureReader(await openFileSource(file));
  let n = 0;
  while (await reader.read()) n++;
  assert.is(n, 15);
  assert.is(reader.format, 'pcapng');
  assert.is(reader.interfaces[0]!.name, 'lo');
  assert.ok(reader.decoder.skippedBlocks >= 1, 'the interface statistics block was skipped');
  await reader.close();
  await sameAsTshark(file, 15);
});

const scapyPython = '/usr/bin/python3';
const scapy = prerequisite(
  [tools.ok, tools.reason],
  [(() => {
    try {
      return execFileSync(scapyPython, ['-c', 'import scapy.all'], { stdio: 'ignore', timeout: 60_000 }) !== undefined;
    } catch {
      return false;
    }
  })(), `${scapyPython} with scapy is not installed (apt-get install python3-scapy)`],
);

testWhen(test, scapy, 'big-endian pcap (µs and ns) written by scapy read like tshark', async () => {
  for (const nano of [false, true]) {
    const file = join(dir, `scapy-be-${nano ? 'ns' : 'us'}.pcap`);
    const script = [
      'import sys',
      'from scapy.all import Ether, IP, UDP, Raw, PcapWriter',
      'from decimal import Decimal',
      `w = PcapWriter(sys.argv[1], endianness='>', nano=${nano ? 'True' : 'False'}, sync=True)`,
      'for i in range(12):',
      '    p = Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01")/IP(dst="127.0.0.1")/UDP(dport=9)/Raw(b"x" * (i * 111))',
      '    p.time = Decimal("1700000000.123456789") + i',
      '    w.write(p)',
      'w.close()',
    ].join('\n');
    await run(scapyPython, ['-c', script, file]);
    const magic = readFileSync(file).readUInt32BE(0);
    assert.is(magic, nano ? 0xa1b23c4d : 0xa1b2c3d4, 'big-endian magic');
    const ours = await sameAsTshark(file, 12);
    assert.is(ours[0]!.nanos, nano ? 123456789 : 123457000); // scapy rounds to the microsecond
  }
});

for (const format of ['pcap', 'pcapng'] as const) {
  for (const littleEndian of [true, false]) {
    for (const nanosecond of [false, true]) {
      const label = `${format}-${littleEndian ? 'le' : 'be'}-${nanosecond ? 'ns' : 'us'}`;
      testWhen(test, tools, `tshark reads what netbe writes: ${label}`, async () => {
        const file = join(dir, `netbe-${label}.${format}`);
        const w = new CaptureWriter(await openFileSink(file), { format, littleEndian, nanosecond, application: 'netbe test', interfaces: [{ name: 'guest0' }] });
        const expected: Array<{ len: number; seconds: number; nanos: number; direction: Direction }> = [];
        for (let i = 0; i < 50; i++) {
          const len = i % 2 ? 64 : 1514;
          const frameBytes = new Uint8Array(len);
          frameBytes.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
          const seconds = 1700000000 + i;
          const nanos = (i * 123456789) % 1e9;
          const direction = (i % 3 === 0 ? 1 : 2) as Direction;
          w.write(frameBytes, { seconds, nanos, direction });
          expected.push({ len, seconds, nanos: nanosecond ? nanos : Math.floor(nanos / 1000) * 1000, direction });
        }
        await w.close();
        const theirs = await tsharkFrames(file);
        assert.is(theirs.length, 50);
        theirs.forEach((t, i) => {
          const e = expected[i]!;
          assert.equal([t.len, t.capLen, t.seconds, t.nanos], [e.len, e.len, e.seconds, e.nanos], `frame ${i + 1}`);
          if (format === 'pcapng') assert.is(t.direction, e.direction, `direction of frame ${i + 1}`);
        });
        await sameAsTshark(file, 50);
      });
    }
  }
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
