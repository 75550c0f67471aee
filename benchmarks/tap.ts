/**
 * The tap backend against the kernel, each case with a veth reference measured in the same run:
 *
 * - tx-64, tx-1500: guest TX → tap. `send` of prebuilt frames (12-byte header + frame, two iov
 *   entries, one writev each). Reference: the same frames written into one end of a veth pair
 *   through an AF_PACKET socket (one write each); both land in a kernel receive path and are
 *   dropped there (unknown EtherType).
 * - rx-64, rx-1500 (and rx-1500-peek): tap → guest RX. Frames injected into the tap's transmit
 *   path with an AF_PACKET socket, then drained with `recv` (straight into the buffer) or with
 *   peekRecvLen + recv (one bounce copy). Reference: the same injection into veth end A and
 *   reads of a packet socket on end B. The figure covers injection and reception together.
 * - tcp-bulk: iperf3 between two namespaces, through two taps bridged by this process (each frame
 *   read from one tap and written to the other; offloads on: 64 KiB GSO frames cross whole) and
 *   tcp-bulk-nooffload (vnet_hdr=off: the kernel segments and checksums, 1500-byte frames).
 *   Reference: iperf3 over a veth pair joining the same two kinds of namespace.
 *
 * Needs root, /dev/net/tun, iproute2 and iperf3; prints a note and skips otherwise.
 */
import { spawnSync } from 'node:child_process';
import { createBackend, type NetBackend } from '@netbe/core';
import '@netbe/backend-tap';
import type { TapBackend } from '@netbe/backend-tap';
import { sys } from '@netbe/sys';
import { createNetns, createVeth, ip, setSysctl, uniqueIfname, type Netns } from '../tools/netns';
import type { Harness, Measurement } from './harness';

const BATCH = 64;
const EXPERIMENTAL_ETHERTYPE = 0x88b5; // IEEE 802 local experimental: nobody handles it

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function frameOf(size: number): Uint8Array {
  const f = new Uint8Array(size);
  f.fill(0xff, 0, 6);
  f.set([2, 0, 0, 0x4e, 0x42, 1], 6);
  f[12] = EXPERIMENTAL_ETHERTYPE >> 8;
  f[13] = EXPERIMENTAL_ETHERTYPE & 0xff;
  for (let i = 14; i < size; i++) f[i] = i & 0xff;
  return f;
}

function quiet(ifname: string): void {
  setSysctl(`net.ipv6.conf.${ifname}.disable_ipv6`, 1);
  ip('link', 'set', ifname, 'up');
}

/** A veth pair in this namespace, both ends up: a send-only socket on `a`, a reading one on `b`. */
function vethRig(): { inject: number; read: number; destroy(): void } {
  const veth = createVeth();
  quiet(veth.a);
  quiet(veth.b);
  const inject = sys.packetOpen(veth.a, { receive: false });
  const read = sys.packetOpen(veth.b);
  return {
    inject,
    read,
    destroy() {
      sys.close(inject);
      sys.close(read);
      veth.destroy();
    },
  };
}

async function openTap(vnetHdr: boolean): Promise<TapBackend> {
  const ifname = uniqueIfname('nbbt');
  const tap = (await createBackend(`tap,ifname=${ifname},vnet_hdr=${vnetHdr ? 'on' : 'off'},up=off`)) as TapBackend;
  quiet(tap.ifname);
  return tap;
}

function drainFd(fd: number, buf: Uint8Array): void {
  for (let i = 0; i < 10000 && sys.read(fd, buf) > 0; i++);
}

const median = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1]!;

/**
 * Measures `batch` and `refBatch` in alternating one-round measurements (so that load from other
 * processes hits both alike) and returns the medians.
 */
function alternate(h: Harness, batch: () => void, refBatch: () => void, bytesPerOp: number): [Measurement, Measurement] {
  const rounds = Math.max(1, Number(process.env.NETBE_BENCH_ROUNDS ?? 5));
  const mine: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    theirs.push(h.measure(refBatch, BATCH, { rounds: 1, bytesPerOp }).opsPerSec);
    mine.push(h.measure(batch, BATCH, { rounds: 1, bytesPerOp }).opsPerSec);
  }
  const m = median(mine);
  const ref = median(theirs);
  return [{ opsPerSec: m, bytesPerSec: m * bytesPerOp }, { opsPerSec: ref, bytesPerSec: ref * bytesPerOp }];
}

async function txCases(h: Harness): Promise<void> {
  for (const size of [64, 1500]) {
    const frame = frameOf(size);
    const veth = vethRig();
    const tap = await openTap(true);
    tap.setCap(0n, 12);
    const iov = [new Uint8Array(12), frame];
    const [m, ref] = alternate(
      h,
      () => {
        for (let i = 0; i < BATCH; i++) tap.send(iov, 2);
      },
      () => {
        for (let i = 0; i < BATCH; i++) sys.write(veth.inject, frame);
      },
      size,
    );
    if (tap.stats.txDrops !== 0) h.note(`tx-${size}: ${tap.stats.txDrops} frames dropped by the tap`);
    await tap.close();
    veth.destroy();
    h.reportBoth(`tx-${size}`, m, 'veth af_packet write', ref);
  }
}

async function rxCases(h: Harness): Promise<void> {
  const buf = new Uint8Array(65536);
  for (const [size, peek] of [[64, false], [1500, false], [1500, true]] as const) {
    const frame = frameOf(size);
    const veth = vethRig();
    drainFd(veth.read, buf);
    const tap = await openTap(true);
    tap.setCap(0n, 12);
    const inject = sys.packetOpen(tap.ifname, { receive: false });
    while (tap.rxDiscard() > 0);
    const iov = [buf];
    let lost = 0;
    let refLost = 0;
    const [m, ref] = alternate(
      h,
      () => {
        for (let i = 0; i < BATCH; i++) sys.write(inject, frame);
        let got = 0;
        if (peek) {
          for (; got < BATCH && tap.peekRecvLen() > 0; got++) tap.recv(iov, 1);
        } else {
          for (; got < BATCH && tap.recv(iov, 1) > 0; got++);
        }
        lost += BATCH - got;
      },
      () => {
        for (let i = 0; i < BATCH; i++) sys.write(veth.inject, frame);
        let got = 0;
        for (; got < BATCH && sys.read(veth.read, buf) > 0; got++);
        refLost += BATCH - got;
      },
      size,
    );
    sys.close(inject);
    await tap.close();
    veth.destroy();
    if (lost || refLost) h.note(`rx-${size}: frames not received in their batch: tap ${lost}, veth ${refLost}`);
    h.reportBoth(`rx-${size}${peek ? '-peek' : ''}`, m, 'veth af_packet write+read', ref);
  }
}

/** Forwards every frame between two backends (what a VMM with two NICs bridged would do). */
function bridge(a: NetBackend, b: NetBackend): void {
  const pump = (from: NetBackend, to: NetBackend): (() => void) => {
    const buf = new Uint8Array(65536 + 64);
    const iov = [buf];
    return () => {
      for (let i = 0; i < BATCH; i++) {
        const n = from.recv(iov, 1);
        if (n === 0) return;
        if (n > 0) to.send([buf.subarray(0, n)], 1);
      }
    };
  };
  a.attach({ rxReady: pump(a, b) });
  b.attach({ rxReady: pump(b, a) });
  a.rxEnable();
  b.rxEnable();
}

/** Runs iperf3 from `client` to `server` at `serverIp` and returns the received Gbit/s. */
async function iperf(client: Netns, server: Netns, serverIp: string, seconds: number): Promise<number> {
  const srv = server.spawn(['iperf3', '-s', '-1', '--forceflush', '-B', serverIp]);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`iperf3 server did not start: ${out}`)), 10000);
    srv.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const cli = client.spawn(['iperf3', '-c', serverIp, '-t', String(seconds), '-J']);
  let json = '';
  cli.stdout!.on('data', (d: Buffer) => (json += d.toString()));
  const code = await new Promise<number>((resolve) => cli.once('exit', (c) => resolve(c ?? -1)));
  srv.kill();
  if (code !== 0) throw new Error(`iperf3 client exited ${code}: ${json.slice(0, 500)}`);
  const result = JSON.parse(json) as { end: { sum_received: { bits_per_second: number } } };
  return result.end.sum_received.bits_per_second / 1e9;
}

interface Path {
  name: string;
  client: Netns;
  server: Netns;
  serverIp: string;
  taps: TapBackend[];
  runs: number[];
}

async function tcpBulk(h: Harness): Promise<void> {
  const seconds = Math.max(1, Math.round(Number(process.env.NETBE_BENCH_TCP_SECONDS ?? 2)));
  const rounds = Math.min(5, Number(process.env.NETBE_BENCH_ROUNDS ?? 3));
  const paths: Path[] = [];
  try {
    // Reference: a veth pair straight between two namespaces.
    {
      const path: Path = { name: 'veth', client: createNetns('bl'), server: createNetns('br'), serverIp: '10.82.0.2', taps: [], runs: [] };
      paths.push(path);
      const veth = createVeth();
      path.client.adopt(veth.a);
      path.server.adopt(veth.b);
      path.client.configure(veth.a, '10.82.0.1/24');
      path.server.configure(veth.b, '10.82.0.2/24');
    }
    // Two taps bridged by this process, with offloads on (GSO frames cross whole) and off.
    for (const [offload, net] of [[true, 83], [false, 84]] as const) {
      const path: Path = { name: offload ? 'tcp-bulk' : 'tcp-bulk-nooffload', client: createNetns('tl'), server: createNetns('tr'), serverIp: `10.${net}.0.2`, taps: [], runs: [] };
      paths.push(path);
      const a = await openTap(offload);
      const b = await openTap(offload);
      path.taps.push(a, b);
      if (offload) {
        a.setCap(a.getCap(), 12);
        b.setCap(b.getCap(), 12);
      }
      path.client.adopt(a.ifname);
      path.server.adopt(b.ifname);
      path.client.configure(a.ifname, `10.${net}.0.1/24`);
      path.server.configure(b.ifname, `10.${net}.0.2/24`);
      bridge(a, b);
    }
    // Alternate the paths round by round so that load from elsewhere hits all of them alike.
    for (let r = 0; r < rounds; r++) for (const p of paths) p.runs.push(await iperf(p.client, p.server, p.serverIp, seconds));
    const ref = { name: 'iperf3 over veth', value: median(paths[0]!.runs), unit: 'Gbit/s' as const };
    for (const p of paths.slice(1)) {
      h.report(p.name, median(p.runs), 'Gbit/s', ref);
      const [a, b] = p.taps as [TapBackend, TapBackend];
      const frames = a.stats.rxFrames + b.stats.rxFrames;
      const bytes = a.stats.rxBytes + b.stats.rxBytes;
      h.note(`${p.name}: ${frames} frames forwarded, ${(bytes / Math.max(frames, 1)).toFixed(0)} bytes each on average, drops tx ${a.stats.txDrops + b.stats.txDrops} rx ${a.stats.rxDrops + b.stats.rxDrops}`);
    }
  } finally {
    for (const p of paths) {
      for (const t of p.taps) await t.close();
      p.client.destroy();
      p.server.destroy();
    }
  }
}

export default async function tap(h: Harness): Promise<void> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !have('ip')) {
    h.note('skipped: needs root, /dev/net/tun and iproute2');
    return;
  }
  await txCases(h);
  await rxCases(h);
  if (!have('iperf3')) h.note('tcp-bulk skipped: iperf3 is not installed');
  else await tcpBulk(h);
}
