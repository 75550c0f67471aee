// @timeout 600
/**
 * Issue #8 acceptance: a Linux guest under QEMU TCG on `netbe serve` (vhost-user, default
 * user-mode network, netbe as user nobody when setpriv is there) gets its address by DHCP and
 * downloads 20 MiB of pseudo-random bytes with `wget` from an HTTP server on the host's
 * 127.0.0.1, through the gateway mapping (10.0.2.2 with loopback=on); the guest's sha256sum
 * must equal the host's. Once with the offloads netbe offers (GUEST_CSUM, GUEST_TSO4: checksum
 * offload and large segments on the guest's RX path), once with every offload masked by QEMU
 * (MTU-sized frames whose TCP checksums the guest verifies). The transfer time is printed, not
 * asserted. The hostfwd direction is e2e-qemu-slirp.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { netFeatureNames } from '@netbe/core';
import { hasCommand, isRoot, prerequisite, testWhen, withTimeout } from '@netbe/test-utils';
import { buildGuestImage, guestPrerequisiteProblem } from '../../../tools/guest/build-initramfs';
import { GuestVm, type BootOptions } from '../../../tools/guest/qemu';
import { dhcpClientScript } from '../../../tools/guest/scripts';
import { GuestRig } from './e2e-guest-rig';
import { NetbeProcess } from './e2e-netbe-process';

const guestProblem = guestPrerequisiteProblem();
const pre = prerequisite([guestProblem === null, guestProblem ?? '']);

const BLOB_BYTES = 20 << 20;

/** `n` bytes of xorshift32 output from `seed`: incompressible, the same in every run. */
function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view.setUint32(i, x >>> 0, true);
  }
  return out;
}

/** The guest's /sys/class/net/eth0/device/features line: one '0'/'1' per bit, bit 0 first. */
function featuresFromSysfs(bits: string): bigint {
  let f = 0n;
  for (let i = 0; i < bits.length; i++) if (bits[i] === '1') f |= 1n << BigInt(i);
  return f;
}

let blobCache: { bytes: Uint8Array; sha256: string } | undefined;
function blob(): { bytes: Uint8Array; sha256: string } {
  if (!blobCache) {
    const bytes = pseudoRandomBytes(BLOB_BYTES, 0x6e657462);
    blobCache = { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  return blobCache;
}

const rig = new GuestRig();
test.after.each(() => rig.cleanup());

interface Download {
  features: string[];
  tcp: Map<string, string>;
  rxFrames: number;
  mbitPerSecond: number;
}
const downloads = new Map<string, Download>();

/**
 * Boots a guest that wgets the blob from a host server on 127.0.0.1 through 10.0.2.2 and asserts
 * the copy is whole; prints the timing. The NIC is vhost-user on a fresh `netbe serve` (slirp,
 * loopback=on) with `deviceProperties` on the virtio-net-pci device, or, as the reference, QEMU's
 * own user network (libslirp, which maps 10.0.2.2 to the host loopback by default).
 */
async function guestDownload(label: string, nic: { deviceProperties: readonly string[] } | 'qemu-user-net'): Promise<Download> {
  const socketPath = join(rig.makeDir('netbe-e2e-wget-'), 'vu.sock');
  const image = buildGuestImage();
  const { bytes, sha256 } = blob();
  let served: { start: number; end: number } | undefined;
  const web = (rig.web = createServer((req, res) => {
    if (req.url !== '/blob') {
      res.statusCode = 404;
      res.end();
      return;
    }
    const start = performance.now();
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', String(bytes.length));
    res.on('finish', () => (served = { start, end: performance.now() }));
    res.end(bytes);
  }));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  const webPort = (web.address() as { port: number }).port;

  const unprivileged = isRoot() && hasCommand('setpriv');
  let netbe: NetbeProcess | undefined;
  let nicOptions: Pick<BootOptions, 'vhostUserSocket' | 'mac' | 'nicDeviceProperties' | 'nicArgs'>;
  if (nic === 'qemu-user-net') {
    nicOptions = { nicArgs: ['-netdev', 'user,id=ref-net', '-device', 'virtio-net-pci,netdev=ref-net'] };
  } else {
    netbe = rig.netbe = new NetbeProcess(['serve', '--vhost-user', socketPath, '--backend', 'slirp,loopback=on', '--stats', '5'], unprivileged ? { asUser: 65534 } : {});
    const qemuLine = await netbe.waitForLine(/-netdev vhost-user/, 60_000);
    const mac = /mac=([0-9a-f:]{17})/.exec(qemuLine)![1]!;
    nicOptions = { vhostUserSocket: socketPath, mac, nicDeviceProperties: nic.deviceProperties };
  }
  // Debian's busybox (< 1.36.1-5) is built without FEATURE_WGET_TIMEOUT and `wget -T` writes
  // through a null pointer: bound it with `timeout` instead. /proc/uptime has 10 ms resolution.
  const script = `#!/bin/sh
${dhcpClientScript()}echo "NETBE-RESULT features $(cat /sys/class/net/eth0/device/features)"
# Every 5 s while wget runs: bytes so far and the socket's /proc/net/tcp row (for a stall).
(while sleep 5; do echo "NETBE-PROGRESS $(wc -c < /tmp/f) $(grep ":$(printf %04X ${webPort}) " /proc/net/tcp)"; done) &
monitor=$!
t0=$(cut -d' ' -f1 /proc/uptime)
timeout 120 wget -q -O /tmp/f http://10.0.2.2:${webPort}/blob
rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
kill $monitor
echo "NETBE-RESULT wget rc=$rc seconds=$(awk "BEGIN{print $t1-$t0}") bytes=$(wc -c < /tmp/f)"
echo "NETBE-RESULT sha256 $(sha256sum /tmp/f | cut -d' ' -f1)"
echo "NETBE-RESULT rx-frames $(cat /sys/class/net/eth0/statistics/rx_packets)"
echo "NETBE-RESULT tcp $(awk '/^Tcp:/ {n++; if (n==1) split($0,k); else for (i=2;i<=NF;i++) printf "%s=%s ", k[i], $i}' /proc/net/snmp)"
`;
  const verbose = process.env.NETBE_E2E_VERBOSE ? (l: string) => console.log(`[guest] ${l}`) : undefined;
  const vm = (rig.vm = GuestVm.boot({ image, workDir: rig.dir, script, ...nicOptions, onLine: verbose }));
  const done = await vm.waitForLine(/^NETBE-GUEST done rc=(\d+)/, 420_000);
  const r = vm.results();
  // On failure: the guest's last lines (its TCP counters included) and netbe's rate lines.
  const tail = `${vm.lines.slice(-30).join('\n')}\nnetbe:\n${netbe?.lines.slice(-20).join('\n')}`;
  assert.is(done[1], '0', tail);
  assert.match(r.get('dhcp') ?? '', /^10\.0\.2\.15 router 10\.0\.2\.2 /, tail);
  const wget = /^rc=(\d+) seconds=([\d.]+) bytes=(\d+)$/.exec(r.get('wget') ?? '');
  assert.ok(wget, `wget result line: ${r.get('wget')}\n${tail}`);
  assert.is(wget[1], '0', tail);
  assert.is(Number(wget[3]), BLOB_BYTES, 'bytes written by wget');
  assert.is(r.get('sha256'), sha256, 'sha256 of the guest copy vs the host blob');
  assert.ok(served, 'the host server finished sending /blob');

  const features = netFeatureNames(featuresFromSysfs(r.get('features') ?? ''));
  const tcp = new Map((r.get('tcp') ?? '').trim().split(' ').map((kv) => kv.split('=') as [string, string]));
  const guestSeconds = Number(wget[2]);
  const hostSeconds = (served.end - served.start) / 1000;
  const mbit = (s: number): string => (s > 0 ? ((BLOB_BYTES * 8) / s / 1e6).toFixed(0) : 'n/a');
  const nicName = netbe ? `vhost-user, netbe slirp ${unprivileged ? 'as nobody' : 'as current user'}` : 'QEMU user network (libslirp)';
  const inSegs = Number(tcp.get('InSegs'));
  const rxFrames = Number(r.get('rx-frames'));
  console.log(
    `e2e wget ${label}: 20 MiB host 127.0.0.1 -> guest (QEMU TCG, ${nicName}) sha256 ok; ` +
      `guest wget ${guestSeconds.toFixed(2)} s (${mbit(guestSeconds)} Mbit/s incl. connect), host send ${hostSeconds.toFixed(2)} s (${mbit(hostSeconds)} Mbit/s); ` +
      `guest eth0 rx ${rxFrames} frames (${rxFrames > 0 ? Math.round(BLOB_BYTES / rxFrames) : 'n/a'} B/frame), TCP InSegs ${inSegs} after GRO, RetransSegs ${tcp.get('RetransSegs')}; features ${features.join(' ')}`,
  );

  await withTimeout(60_000, vm.exited, 'QEMU exit after the guest powered off');
  rig.vm = undefined;
  if (netbe) assert.is(await netbe.stop(), 0, netbe.lines.slice(-10).join('\n'));
  const download = { features, tcp, rxFrames, mbitPerSecond: (BLOB_BYTES * 8) / guestSeconds / 1e6 };
  downloads.set(label, download);
  return download;
}

testWhen(test, pre, 'a QEMU guest on netbe serve (slirp) wgets 20 MiB from the host loopback through the gateway, offloads on; sha256 matches', async () => {
  const { features, tcp, rxFrames } = await guestDownload('offloads on', { deviceProperties: [] });
  for (const f of ['GUEST_CSUM', 'GUEST_TSO4']) assert.ok(features.includes(f), `the guest should negotiate ${f}: ${features.join(' ')}`);
  assert.ok(rxFrames < BLOB_BYTES / 1460, `slirp should use GUEST_TSO4 (frames above the MTU): ${rxFrames} frames for ${BLOB_BYTES} bytes`);
  assert.is(tcp.get('InCsumErrors'), '0', `guest TCP counters: ${[...tcp].join(' ')}`);
});

// With GUEST_CSUM off the guest verifies the checksum of every segment slirp built.
const NO_OFFLOADS = ['csum', 'guest_csum', 'guest_tso4', 'guest_tso6', 'guest_ecn', 'guest_ufo', 'host_tso4', 'host_tso6', 'host_ecn', 'host_ufo'].map((p) => `${p}=off`);

testWhen(test, pre, 'the same download with every offload off: 1500-byte frames, the guest checks each TCP checksum', async () => {
  const { features, tcp, rxFrames } = await guestDownload('offloads off', { deviceProperties: NO_OFFLOADS });
  for (const f of ['CSUM', 'GUEST_CSUM', 'GUEST_TSO4', 'HOST_TSO4']) assert.not.ok(features.includes(f), `${f} should be off: ${features.join(' ')}`);
  assert.is(tcp.get('InCsumErrors'), '0', `guest TCP counters: ${[...tcp].join(' ')}`);
  assert.is(tcp.get('InErrs'), '0', `guest TCP counters: ${[...tcp].join(' ')}`);
  assert.ok(rxFrames >= BLOB_BYTES / 1460, `no frame larger than the MTU without GUEST_TSO4: ${rxFrames} frames`);
});

testWhen(test, pre, 'reference: the same download through QEMU\'s own user network (libslirp), same guest, same run', async () => {
  const ref = await guestDownload('reference', 'qemu-user-net');
  const vs = (label: string): string => {
    const d = downloads.get(label);
    return d ? `netbe ${label} ${d.mbitPerSecond.toFixed(0)} Mbit/s = ${(d.mbitPerSecond / ref.mbitPerSecond).toFixed(2)}x` : `netbe ${label} did not finish`;
  };
  console.log(`e2e wget: QEMU user network ${ref.mbitPerSecond.toFixed(0)} Mbit/s; ${vs('offloads on')}; ${vs('offloads off')} (guest-measured, TCG, informational)`);
});

test.run();
