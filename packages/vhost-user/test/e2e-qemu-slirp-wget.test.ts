// @timeout 600
/**
 * Issue #8 acceptance: a Linux guest under QEMU TCG on `netbe serve` (vhost-user, default
 * user-mode network, netbe as user nobody when setpriv is there) gets its address by DHCP and
 * downloads 20 MiB of pseudo-random bytes with `wget` from an HTTP server on the host's
 * 127.0.0.1, through the gateway mapping (10.0.2.2 with loopback=on); the guest's sha256sum
 * must equal the host's. The guest keeps the offloads netbe offers (GUEST_CSUM, GUEST_TSO4), so
 * the download runs over the checksum-offload and large-segment RX path. The transfer time is
 * printed, not asserted. The hostfwd direction is e2e-qemu-slirp.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { netFeatureNames } from '@netbe/core';
import { hasCommand, isRoot, prerequisite, testWhen, withTimeout } from '@netbe/test-utils';
import { buildGuestImage, guestPrerequisiteProblem } from '../../../tools/guest/build-initramfs';
import { GuestVm } from '../../../tools/guest/qemu';
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

const rig = new GuestRig();
test.after(() => rig.cleanup());

testWhen(test, pre, 'a QEMU guest on netbe serve (slirp) wgets 20 MiB from the host loopback through the gateway; sha256 matches', async () => {
  const socketPath = join(rig.makeDir('netbe-e2e-wget-'), 'vu.sock');
  const image = buildGuestImage();

  const blob = pseudoRandomBytes(BLOB_BYTES, 0x6e657462);
  const hostSha = createHash('sha256').update(blob).digest('hex');
  let served: { start: number; end: number; path: string } | undefined;
  const web = (rig.web = createServer((req, res) => {
    if (req.url !== '/blob') {
      res.statusCode = 404;
      res.end();
      return;
    }
    const start = performance.now();
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', String(blob.length));
    res.on('finish', () => (served = { start, end: performance.now(), path: req.url ?? '' }));
    res.end(blob);
  }));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  const webPort = (web.address() as { port: number }).port;

  const unprivileged = isRoot() && hasCommand('setpriv');
  const netbe = (rig.netbe = new NetbeProcess(['serve', '--vhost-user', socketPath, '--backend', 'slirp,loopback=on'], unprivileged ? { asUser: 65534 } : {}));
  const qemuLine = await netbe.waitForLine(/-netdev vhost-user/, 60_000);
  const mac = /mac=([0-9a-f:]{17})/.exec(qemuLine)![1]!;
  // Debian's busybox (< 1.36.1-5) is built without FEATURE_WGET_TIMEOUT and `wget -T` writes
  // through a null pointer: bound it with `timeout` instead. /proc/uptime has 10 ms resolution.
  const script = `#!/bin/sh
${dhcpClientScript()}echo "NETBE-RESULT features $(cat /sys/class/net/eth0/device/features)"
t0=$(cut -d' ' -f1 /proc/uptime)
timeout 240 wget -q -O /tmp/f http://10.0.2.2:${webPort}/blob
rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
echo "NETBE-RESULT wget rc=$rc seconds=$(awk "BEGIN{print $t1-$t0}") bytes=$(wc -c < /tmp/f)"
echo "NETBE-RESULT sha256 $(sha256sum /tmp/f | cut -d' ' -f1)"
echo "NETBE-RESULT tcp $(awk '/^Tcp:/ {n++; if (n==1) split($0,k); else for (i=2;i<=NF;i++) printf "%s=%s ", k[i], $i}' /proc/net/snmp)"
`;
  const vm = (rig.vm = GuestVm.boot({ image, workDir: rig.dir, vhostUserSocket: socketPath, mac, script, onLine: process.env.NETBE_E2E_VERBOSE ? (l) => console.log(`[guest] ${l}`) : undefined }));
  const done = await vm.waitForLine(/^NETBE-GUEST done rc=(\d+)/, 420_000);
  const r = vm.results();
  const tail = vm.lines.slice(-30).join('\n');
  assert.is(done[1], '0', tail);
  assert.match(r.get('dhcp') ?? '', /^10\.0\.2\.15 router 10\.0\.2\.2 /, tail);

  const features = netFeatureNames(featuresFromSysfs(r.get('features') ?? ''));
  assert.ok(features.includes('GUEST_CSUM') && features.includes('GUEST_TSO4'), `the guest driver should keep GUEST_CSUM and GUEST_TSO4 on: ${features.join(' ')}`);

  const wget = /^rc=(\d+) seconds=([\d.]+) bytes=(\d+)$/.exec(r.get('wget') ?? '');
  assert.ok(wget, `wget result line: ${r.get('wget')}\n${tail}`);
  assert.is(wget[1], '0', tail);
  assert.is(Number(wget[3]), BLOB_BYTES, 'bytes written by wget');
  assert.is(r.get('sha256'), hostSha, 'sha256 of the guest copy vs the host blob');
  assert.is(served?.path, '/blob');

  const tcp = new Map((r.get('tcp') ?? '').trim().split(' ').map((kv) => kv.split('=') as [string, string]));
  assert.is(tcp.get('InCsumErrors'), '0', `guest TCP counters: ${r.get('tcp')}`);
  const guestSeconds = Number(wget[2]);
  const hostSeconds = (served!.end - served!.start) / 1000;
  const mbit = (s: number): string => (s > 0 ? ((BLOB_BYTES * 8) / s / 1e6).toFixed(0) : 'n/a');
  const inSegs = Number(tcp.get('InSegs'));
  console.log(
    `e2e wget: 20 MiB host 127.0.0.1 -> guest (QEMU TCG, vhost-user, slirp ${unprivileged ? 'as nobody' : 'as current user'}) sha256 ok; ` +
      `guest wget ${guestSeconds.toFixed(2)} s (${mbit(guestSeconds)} Mbit/s incl. connect), host send ${hostSeconds.toFixed(2)} s (${mbit(hostSeconds)} Mbit/s); ` +
      `guest TCP InSegs ${inSegs} (${inSegs > 0 ? Math.round(BLOB_BYTES / inSegs) : 'n/a'} B/segment), RetransSegs ${tcp.get('RetransSegs')}; features ${features.join(' ')}`,
  );

  await withTimeout(60_000, vm.exited, 'QEMU exit after the guest powered off');
  rig.vm = undefined;
  assert.is(await netbe.stop(), 0, netbe.lines.slice(-10).join('\n'));
});

test.run();
