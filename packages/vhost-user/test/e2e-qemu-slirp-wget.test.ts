// @timeout 600
/**
 * Issue #8 acceptance: a Linux guest under QEMU TCG on `netbe serve` (vhost-user, default
 * user-mode network, netbe as user nobody when setpriv is there) gets its address by DHCP and
 * downloads 20 MiB of pseudo-random bytes with `wget` from an HTTP server on the host's
 * 127.0.0.1, through the gateway mapping (10.0.2.2 with loopback=on); the guest's sha256sum
 * must equal the host's. Then the guest serves its copy with busybox httpd and the host fetches
 * it through a hostfwd port; that sha256 must match too. Once with the offloads netbe offers (GUEST_CSUM, GUEST_TSO4: checksum
 * offload and large segments on the guest's RX path), once with every offload masked by QEMU
 * (MTU-sized frames whose TCP checksums the guest verifies). The transfer time is printed, not
 * asserted. The hostfwd direction is e2e-qemu-slirp.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { netFeatureNames } from '@netbe/core';
import { hasCommand, isRoot, prerequisite, testWhen, withTimeout } from '@netbe/test-utils';
import { buildGuestImage, guestPrerequisiteProblem } from '../../../tools/guest/build-initramfs';
import { GuestVm, type BootOptions } from '../../../tools/guest/qemu';
import { dhcpClientScript } from '../../../tools/guest/scripts';
import { freePort, GuestRig } from './e2e-guest-rig';
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

interface Transfer {
  features: string[];
  tcp: Map<string, string>;
  /** Frames the guest's eth0 received during the download (before GRO). */
  rxFrames: number;
  /** Frames the guest's eth0 sent while the host fetched the copy back. */
  txFrames: number;
  downloadMbit: number;
  fetchBackMbit: number;
}
const transfers = new Map<string, Transfer>();

const mbit = (seconds: number): number => (BLOB_BYTES * 8) / seconds / 1e6;

/**
 * Boots a guest that wgets the blob from a host server on 127.0.0.1 through 10.0.2.2 and checks
 * its sha256, then serves the copy with busybox httpd on port 8080, which the host fetches
 * through a hostfwd rule and hashes; a connection to a second hostfwd port (guest 8081) tells
 * the guest to finish. Asserts both copies are whole; prints the timings. The NIC is vhost-user
 * on a fresh `netbe serve` (slirp, loopback=on) with `deviceProperties` on the virtio-net-pci
 * device, or, as the reference, QEMU's own user network (libslirp, whose 10.0.2.2 reaches the
 * host loopback by default).
 */
async function guestTransfer(label: string, nic: { deviceProperties: readonly string[] } | 'qemu-user-net'): Promise<Transfer> {
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
  const fwdHttp = await freePort();
  const fwdDone = await freePort();

  const unprivileged = isRoot() && hasCommand('setpriv');
  let netbe: NetbeProcess | undefined;
  let nicOptions: Pick<BootOptions, 'vhostUserSocket' | 'mac' | 'nicDeviceProperties' | 'nicArgs'>;
  const forwards = `hostfwd=tcp:127.0.0.1:${fwdHttp}-:8080,hostfwd=tcp:127.0.0.1:${fwdDone}-:8081`;
  if (nic === 'qemu-user-net') {
    nicOptions = { nicArgs: ['-netdev', `user,id=ref-net,${forwards}`, '-device', 'virtio-net-pci,netdev=ref-net'] };
  } else {
    const spec = `slirp,loopback=on,${forwards}`;
    netbe = rig.netbe = new NetbeProcess(['serve', '--vhost-user', socketPath, '--backend', spec, '--stats', '5'], unprivileged ? { asUser: 65534 } : {});
    const qemuLine = await netbe.waitForLine(/-netdev vhost-user/, 60_000);
    const mac = /mac=([0-9a-f:]{17})/.exec(qemuLine)![1]!;
    nicOptions = { vhostUserSocket: socketPath, mac, nicDeviceProperties: nic.deviceProperties };
  }
  // Debian's busybox (< 1.36.1-5) is built without FEATURE_WGET_TIMEOUT and `wget -T` writes
  // through a null pointer: bound it with `timeout` instead. /proc/uptime has 10 ms resolution.
  const script = `#!/bin/sh
${dhcpClientScript()}echo "NETBE-RESULT features $(cat /sys/class/net/eth0/device/features)"
now() { cut -d' ' -f1 /proc/uptime; }
stat() { cat /sys/class/net/eth0/statistics/$1; }
# Every 5 s while wget runs: bytes so far and the socket's /proc/net/tcp row (for a stall).
(while sleep 5; do echo "NETBE-PROGRESS $(wc -c < /tmp/f) $(grep ":$(printf %04X ${webPort}) " /proc/net/tcp)"; done) &
monitor=$!
rx0=$(stat rx_packets); t0=$(now)
timeout 120 wget -q -O /tmp/f http://10.0.2.2:${webPort}/blob
rc=$?
t1=$(now); rx1=$(stat rx_packets)
kill $monitor
echo "NETBE-RESULT download rc=$rc seconds=$(awk "BEGIN{print $t1-$t0}") bytes=$(wc -c < /tmp/f) rx-frames=$((rx1-rx0))"
echo "NETBE-RESULT sha256 $(sha256sum /tmp/f | cut -d' ' -f1)"
mkdir -p /www && mv /tmp/f /www/blob
tx0=$(stat tx_packets)
httpd -p 8080 -h /www
echo "NETBE-RESULT serving"
timeout 300 nc -l -p 8081 < /dev/null > /dev/null
tx1=$(stat tx_packets)
echo "NETBE-RESULT fetched-back tx-frames=$((tx1-tx0))"
echo "NETBE-RESULT tcp $(awk '/^Tcp:/ {n++; if (n==1) split($0,k); else for (i=2;i<=NF;i++) printf "%s=%s ", k[i], $i}' /proc/net/snmp)"
`;
  const verbose = process.env.NETBE_E2E_VERBOSE ? (l: string) => console.log(`[guest] ${l}`) : undefined;
  const vm = (rig.vm = GuestVm.boot({ image, workDir: rig.dir, script, ...nicOptions, onLine: verbose }));
  // On failure: the guest's last lines (its TCP counters included) and netbe's rate lines.
  const tail = (): string => `${vm.lines.slice(-30).join('\n')}\nnetbe:\n${netbe?.lines.slice(-20).join('\n')}`;
  await vm.waitForLine(/^NETBE-RESULT (serving|sha256)/, 300_000);
  let r = vm.results();
  assert.match(r.get('dhcp') ?? '', /^10\.0\.2\.15 router 10\.0\.2\.2 /, tail());
  await vm.waitForLine(/^NETBE-RESULT serving/, 60_000);
  r = vm.results();
  const down = /^rc=(\d+) seconds=([\d.]+) bytes=(\d+) rx-frames=(\d+)$/.exec(r.get('download') ?? '');
  assert.ok(down, `download result line: ${r.get('download')}\n${tail()}`);
  assert.is(down[1], '0', tail());
  assert.is(Number(down[3]), BLOB_BYTES, 'bytes written by wget');
  assert.is(r.get('sha256'), sha256, 'sha256 of the guest copy vs the host blob');
  assert.ok(served, 'the host server finished sending /blob');

  // The reverse direction: the host pulls the guest's copy through hostfwd.
  const fetchStart = performance.now();
  const back = new Uint8Array(await withTimeout(120_000, async () => (await fetch(`http://127.0.0.1:${fwdHttp}/blob`, { signal: AbortSignal.timeout(120_000) })).arrayBuffer(), 'fetch through hostfwd'));
  const fetchSeconds = (performance.now() - fetchStart) / 1000;
  assert.is(back.length, BLOB_BYTES, 'bytes fetched back from the guest through hostfwd');
  assert.is(createHash('sha256').update(back).digest('hex'), sha256, 'sha256 of the copy fetched back from the guest');
  await new Promise<void>((resolve, reject) => {
    const s = connect(fwdDone, '127.0.0.1', () => s.end());
    s.on('error', reject);
    s.on('close', () => resolve());
    s.resume();
  });
  const done = await vm.waitForLine(/^NETBE-GUEST done rc=(\d+)/, 60_000);
  assert.is(done[1], '0', tail());
  r = vm.results();
  const fetched = /^tx-frames=(\d+)$/.exec(r.get('fetched-back') ?? '');
  assert.ok(fetched, `fetched-back line: ${r.get('fetched-back')}\n${tail()}`);

  const features = netFeatureNames(featuresFromSysfs(r.get('features') ?? ''));
  const tcp = new Map((r.get('tcp') ?? '').trim().split(' ').map((kv) => kv.split('=') as [string, string]));
  const t: Transfer = {
    features,
    tcp,
    rxFrames: Number(down[4]),
    txFrames: Number(fetched[1]),
    downloadMbit: mbit(Number(down[2])),
    fetchBackMbit: mbit(fetchSeconds),
  };
  const nicName = netbe ? `vhost-user, netbe slirp ${unprivileged ? 'as nobody' : 'as current user'}` : 'QEMU user network (libslirp)';
  const perFrame = (frames: number): string => (frames > 0 ? `${Math.round(BLOB_BYTES / frames)} B/frame` : 'n/a');
  console.log(
    `e2e wget ${label} (QEMU TCG, ${nicName}): 20 MiB host -> guest and back, sha256 ok both ways; ` +
      `guest wget from host 127.0.0.1 via 10.0.2.2: ${down[2]} s (${t.downloadMbit.toFixed(0)} Mbit/s incl. connect; host send ${((served.end - served.start) / 1000).toFixed(2)} s), ` +
      `${t.rxFrames} frames (${perFrame(t.rxFrames)}); host fetch from guest httpd via hostfwd: ${fetchSeconds.toFixed(2)} s (${t.fetchBackMbit.toFixed(0)} Mbit/s), ` +
      `${t.txFrames} frames (${perFrame(t.txFrames)}); guest TCP InSegs ${tcp.get('InSegs')} OutSegs ${tcp.get('OutSegs')} RetransSegs ${tcp.get('RetransSegs')}; features ${features.join(' ')}`,
  );

  await withTimeout(60_000, vm.exited, 'QEMU exit after the guest powered off');
  rig.vm = undefined;
  if (netbe) assert.is(await netbe.stop(), 0, netbe.lines.slice(-10).join('\n'));
  transfers.set(label, t);
  return t;
}

testWhen(test, pre, 'a QEMU guest on netbe serve (slirp) wgets 20 MiB from the host loopback through the gateway, the host fetches it back through hostfwd, offloads on; sha256 matches', async () => {
  const { features, tcp, rxFrames } = await guestTransfer('offloads on', { deviceProperties: [] });
  for (const f of ['GUEST_CSUM', 'GUEST_TSO4', 'CSUM', 'HOST_TSO4']) assert.ok(features.includes(f), `the guest should negotiate ${f}: ${features.join(' ')}`);
  assert.ok(rxFrames < BLOB_BYTES / 1460, `slirp should use GUEST_TSO4 (frames above the MTU): ${rxFrames} frames for ${BLOB_BYTES} bytes`);
  assert.is(tcp.get('InCsumErrors'), '0', `guest TCP counters: ${[...tcp].join(' ')}`);
});

// With GUEST_CSUM off the guest verifies the checksum of every segment slirp built; with CSUM
// and HOST_TSO4 off slirp gets MTU-sized frames with the guest's own checksums.
const NO_OFFLOADS = ['csum', 'guest_csum', 'guest_tso4', 'guest_tso6', 'guest_ecn', 'guest_ufo', 'host_tso4', 'host_tso6', 'host_ecn', 'host_ufo'].map((p) => `${p}=off`);

testWhen(test, pre, 'the same transfers with every offload off: MTU-sized frames, the guest checks each TCP checksum', async () => {
  const { features, tcp, rxFrames, txFrames } = await guestTransfer('offloads off', { deviceProperties: NO_OFFLOADS });
  for (const f of ['CSUM', 'GUEST_CSUM', 'GUEST_TSO4', 'HOST_TSO4']) assert.not.ok(features.includes(f), `${f} should be off: ${features.join(' ')}`);
  assert.is(tcp.get('InCsumErrors'), '0', `guest TCP counters: ${[...tcp].join(' ')}`);
  assert.is(tcp.get('InErrs'), '0', `guest TCP counters: ${[...tcp].join(' ')}`);
  assert.ok(rxFrames >= BLOB_BYTES / 1460, `no frame larger than the MTU without GUEST_TSO4: ${rxFrames} frames`);
  assert.ok(txFrames >= BLOB_BYTES / 1460, `no frame larger than the MTU without HOST_TSO4: ${txFrames} frames`);
});

testWhen(test, pre, "reference: the same transfers through QEMU's own user network (libslirp), same guest, same run", async () => {
  const ref = await guestTransfer('reference', 'qemu-user-net');
  const vs = (label: string): string => {
    const t = transfers.get(label);
    if (!t) return `netbe ${label} did not finish`;
    return `netbe ${label} down ${t.downloadMbit.toFixed(0)} Mbit/s = ${(t.downloadMbit / ref.downloadMbit).toFixed(2)}x, back ${t.fetchBackMbit.toFixed(0)} Mbit/s = ${(t.fetchBackMbit / ref.fetchBackMbit).toFixed(2)}x`;
  };
  console.log(
    `e2e wget: QEMU user network down ${ref.downloadMbit.toFixed(0)} Mbit/s, back ${ref.fetchBackMbit.toFixed(0)} Mbit/s; ${vs('offloads on')}; ${vs('offloads off')} (download timed by the guest, fetch-back by the host; TCG; informational)`,
  );
});

test.run();
