// @timeout 240
/**
 * `netbe patch tap,ifname=X slirp,…` against a real kernel, the way slirp4netns serves a
 * namespace: the tap moves into a namespace made here, the namespace gets its address by DHCP
 * from slirp (busybox udhcpc), and a process inside it (`ip netns exec … node`) reaches a TCP
 * server on this host's loopback through the gateway (`loopback=on`), 4 MiB both ways, at
 * MTU 65520 with the tap's offloads negotiated through the patch (TSO segments cross whole).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { hasCommand, hasDevice, isRoot, prerequisite, testWhen, waitFor, withTimeout } from '@netbe/test-utils';
import { createNetns, uniqueIfname, type Netns } from '../../../tools/netns';
import { main, type Io } from '../src/index';

const pre = prerequisite(
  [isRoot(), 'needs root (CAP_NET_ADMIN, namespaces)'],
  [hasDevice('/dev/net/tun'), 'needs /dev/net/tun'],
  [hasCommand('ip'), 'needs iproute2'],
  [hasCommand('busybox'), 'needs busybox (udhcpc)'],
);

let ns: Netns | undefined;
let server: Server | undefined;
const sockets: Socket[] = [];
let dir = '';
let stopPatch: ((s: string) => void) | undefined;
let patchDone: Promise<number> | undefined;

test.after.each(async () => {
  stopPatch?.('SIGTERM');
  if (patchDone) await withTimeout(10_000, patchDone, 'patch stopping').catch(() => undefined);
  stopPatch = undefined;
  patchDone = undefined;
  ns?.destroy();
  ns = undefined;
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** Runs a child to its end; resolves with its exit code and output. */
function finished(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

testWhen(test, pre, 'a namespace behind a tap, patched to slirp: DHCP, then TCP to host loopback through the gateway, 4 MiB both ways', async () => {
  // A TCP server on the host's loopback: it echoes a digest of what it got, then sends 4 MiB back.
  const download = new Uint8Array(4 << 20).map((_, i) => (i * 7) & 0xff);
  let uploaded = 0;
  const upHash = createHash('sha256');
  server = createServer((s) => {
    sockets.push(s);
    s.on('data', (d) => {
      uploaded += d.length;
      upHash.update(d);
    });
    s.on('end', () => {
      s.write(`${upHash.digest('hex')}\n`);
      s.end(download);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;

  const ifname = uniqueIfname('nbpt');
  const lines: string[] = [];
  const stopRequested = new Promise<string>((r) => (stopPatch = r));
  const io: Io = { out: (l) => lines.push(l), err: (l) => lines.push(l), stopRequested };
  patchDone = main(['patch', `tap,ifname=${ifname}`, 'slirp,loopback=on,mtu=65520,icmp=off,resolver=127.0.0.1', '--stats', '0.1'], io);
  await waitFor(() => lines.some((l) => /patched|netbe: .*SPEC/.test(l)), 20_000, 'the patch to start');
  assert.match(lines.join('\n'), /virtio-net header 12, offloads .*CSUM.*HOST_TSO4/, lines.join('\n'));

  ns = createNetns('patch');
  ns.adopt(ifname);
  ns.ip('link', 'set', ifname, 'mtu', '65520');
  ns.ip('link', 'set', ifname, 'up');
  ns.ip('link', 'set', 'lo', 'up');
  // DHCP from slirp: the script applies the lease (address, mask, router) as udhcpc reports it.
  dir = mkdtempSync(join(tmpdir(), 'netbe-patch-'));
  const script = join(dir, 'dhcp.sh');
  writeFileSync(script, '#!/bin/sh\ncase "$1" in bound|renew)\n  ip addr add "$ip/$subnet" dev "$interface"\n  ip route add default via "$router" dev "$interface"\n  echo "lease $ip mask $subnet router $router mtu $mtu" ;;\nesac\n');
  chmodSync(script, 0o755);
  const dhcp = await withTimeout(30_000, finished(ns.spawn(['busybox', 'udhcpc', '-f', '-q', '-n', '-t', '5', '-T', '1', '-i', ifname, '-s', script])), 'udhcpc');
  assert.is(dhcp.code, 0, `udhcpc: ${dhcp.out} ${dhcp.err}`);
  assert.match(dhcp.out, /lease 10\.0\.2\.15 mask 255\.255\.255\.0 router 10\.0\.2\.2 mtu 65520/);

  // A process in the namespace: 4 MiB up to 10.0.2.2:PORT (the host's 127.0.0.1), then reads the
  // digest line and 4 MiB back, and prints the digest of what it read.
  const client = `
    const net = require('node:net'); const { createHash } = require('node:crypto');
    const up = Buffer.alloc(4 << 20); for (let i = 0; i < up.length; i++) up[i] = (i * 13) & 0xff;
    const s = net.connect(${port}, '10.0.2.2', () => s.end(up));
    const parts = []; s.on('data', (d) => parts.push(d));
    s.on('end', () => { const all = Buffer.concat(parts); const nl = all.indexOf(10);
      console.log(JSON.stringify({ upHash: createHash('sha256').update(up).digest('hex'), serverSaw: all.subarray(0, nl).toString(),
        down: all.length - nl - 1, downHash: createHash('sha256').update(all.subarray(nl + 1)).digest('hex') })); });
    s.on('error', (e) => { console.error(e.message); process.exit(3); });
    setTimeout(() => { console.error('timeout'); process.exit(4); }, 60000).unref();`;
  const linesBefore = lines.length;
  const run = await withTimeout(90_000, finished(ns.spawn([process.execPath, '-e', client])), 'the namespace client');
  assert.is(run.code, 0, `client: ${run.out} ${run.err}`);
  const r = JSON.parse(run.out) as { upHash: string; serverSaw: string; down: number; downHash: string };
  assert.is(uploaded, 4 << 20);
  assert.is(r.serverSaw, r.upHash, 'the host saw exactly what the namespace sent');
  assert.is(r.down, 4 << 20);
  assert.is(r.downHash, sha(download), 'the namespace got exactly what the host sent');
  const atEnd = lines.length;
  await waitFor(() => lines.slice(atEnd).some((l) => /a→b /.test(l)), 5_000, 'a stats line after the transfer');
  const during = lines.slice(linesBefore);
  assert.ok(during.some((l) => /a→b [\d.]+ k?frames\/s [\d.]+ [MG]bit\/s/.test(l)), `a stats line with the transfer: ${during.join(' / ')}`);

  stopPatch!('SIGTERM');
  assert.is(await withTimeout(10_000, patchDone, 'patch stopping'), 0);
  patchDone = undefined;
  assert.match(lines.join('\n'), /SIGTERM: shutting down[\s\S]*stopped/);
});

test.run();
