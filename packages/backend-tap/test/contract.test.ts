// @timeout 120
// The NetBackend verbs on a real tap: readiness gating, peek/recv/discard, short iovs, the
// 12-byte header, close. Frames are provoked by echo requests to a namespace that knows the
// guest's MAC statically, so each request sent yields exactly one reply to receive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { createBackend, VNET_HDR_LEN } from '@netbe/core';
import { hasCommand, hasDevice, isRoot, prerequisite, testWhen, waitFor } from '@netbe/test-utils';
import { createNetns, uniqueIfname, type Netns } from '../../../tools/netns';
import '../src/index';
import type { TapBackend } from '../src/index';
import { GuestHost, ipv4, macBytes } from './guest-host';

const pre = prerequisite(
  [isRoot(), 'needs root (CAP_NET_ADMIN, namespaces)'],
  [hasDevice('/dev/net/tun'), 'needs /dev/net/tun'],
  [hasCommand('ip'), 'needs iproute2'],
);

const GUEST_MAC = '02:00:00:4e:42:02';
let net = 100;

interface Rig {
  backend: TapBackend;
  ns: Netns;
  provoke(count: number, size?: number): void;
  replySize(size?: number): number;
  done(): Promise<void>;
}

async function rig(vnetHdr: boolean, hdrLen: number): Promise<Rig> {
  const ifname = uniqueIfname('nbct');
  const n = net++;
  const backend = (await createBackend(`tap:${ifname},vnet_hdr=${vnetHdr ? 'on' : 'off'}`)) as TapBackend;
  const ns = createNetns('ct');
  // IPv6 (MLD, router solicitations) would add frames the counts below do not expect.
  ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
  ns.sysctl('net.ipv6.conf.all.disable_ipv6', 1);
  ns.adopt(ifname);
  ns.configure(ifname, `10.79.${n}.1/24`);
  ns.ip('neigh', 'add', `10.79.${n}.2`, 'lladdr', GUEST_MAC, 'dev', ifname, 'nud', 'permanent');
  await new Promise((res) => setTimeout(res, 20));
  for (let i = 0; i < 100 && backend.rxDiscard() > 0; i++); // whatever the kernel sent at link-up
  backend.setCap(0n, hdrLen);
  const host = new GuestHost(macBytes(GUEST_MAC), ipv4(`10.79.${n}.2`), {
    send: (frame) => {
      const hdr = new Uint8Array(backend.vnetHdrLen);
      backend.send(hdrLen ? [hdr, frame] : [frame], hdrLen ? 2 : 1);
    },
  });
  const nsMac = macBytes(JSON.parse(ns.ip('-j', 'link', 'show', ifname))[0].address as string);
  let seq = 0;
  return {
    backend,
    ns,
    provoke(count, size = 56) {
      for (let i = 0; i < count; i++) host.sendEchoRequest(ipv4(`10.79.${n}.1`), nsMac, ++seq, size);
    },
    replySize: (size = 56) => backend.vnetHdrLen + 14 + 20 + 8 + size,
    async done() {
      await backend.close();
      ns.destroy();
    },
  };
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

testWhen(test, pre, 'rxReady: only after rxEnable, asynchronously, level-triggered, silenced by rxDisable', async () => {
  const r = await rig(true, VNET_HDR_LEN);
  try {
    let calls = 0;
    r.backend.attach({ rxReady: () => calls++ });
    r.provoke(1);
    await waitFor(() => r.backend.peekRecvLen() > 0, 5000, 'a reply');
    await turns(5);
    assert.is(calls, 0); // RX starts disabled
    r.backend.rxEnable();
    assert.is(calls, 0); // never synchronously
    await waitFor(() => calls >= 3, 5000, 'repeated rxReady while a peeked frame waits');
    r.backend.rxDisable();
    const frozen = calls;
    r.provoke(2);
    await new Promise((res) => setTimeout(res, 100));
    assert.is(calls, frozen);
    r.backend.rxEnable();
    await waitFor(() => calls > frozen, 5000, 'rxReady after enable');
    // Drain: peeked frame first, then the two new ones straight from the fd.
    const buf = new Uint8Array(2048);
    let got = 0;
    await waitFor(() => {
      while (r.backend.recv([buf], 1) > 0) got++;
      return got === 3;
    }, 5000, 'three frames');
    await turns(3);
    const settled = calls;
    await turns(10);
    assert.is(calls, settled); // nothing pending, no more calls
  } finally {
    await r.done();
  }
});

for (const [label, vnetHdr, hdrLen] of [['vnet_hdr=off', false, 0], ['vnet_hdr=on, 12-byte header', true, 12], ['vnet_hdr=on, device without header', true, 0]] as const) {
  testWhen(test, pre, `${label}: peek, recv, short iov, discard`, async () => {
    const r = await rig(vnetHdr, hdrLen);
    try {
      assert.is(r.backend.vnetHdrLen, hdrLen);
      assert.is(r.backend.peekRecvLen(), 0);
      assert.is(r.backend.recv([new Uint8Array(2048)], 1), 0);
      assert.is(r.backend.rxDiscard(), 0);
      const want = r.replySize(100);
      // peek then recv into two pieces
      r.provoke(1, 100);
      await waitFor(() => r.backend.peekRecvLen() > 0, 5000, 'reply 1');
      assert.is(r.backend.peekRecvLen(), want);
      assert.is(r.backend.peekRecvLen(), want); // does not consume
      const a = new Uint8Array(40).fill(0xee);
      const b = new Uint8Array(2000);
      assert.is(r.backend.recv([a, b], 2), want);
      if (hdrLen === 12) assert.equal([...a.subarray(10, 12)], [0, 0]); // num_buffers
      assert.is(a[hdrLen + 12], 0x08); // EtherType IPv4 right after the header
      // recv without peek into an iov too short: dropped, -1
      r.provoke(1, 100);
      await new Promise((res) => setTimeout(res, 50));
      const drops = r.backend.stats.rxDrops;
      assert.is(r.backend.recv([new Uint8Array(want - 1)], 1), -1);
      assert.is(r.backend.stats.rxDrops, drops + 1);
      // peeked frame into a short iov: dropped too
      r.provoke(1, 100);
      await waitFor(() => r.backend.peekRecvLen() > 0, 5000, 'reply 3');
      assert.is(r.backend.recv([new Uint8Array(10)], 1), -1);
      assert.is(r.backend.stats.rxDrops, drops + 2);
      // discard
      r.provoke(1, 100);
      await waitFor(() => r.backend.peekRecvLen() > 0, 5000, 'reply 4');
      assert.is(r.backend.rxDiscard(), want);
      assert.is(r.backend.stats.rxDrops, drops + 3);
      assert.is(r.backend.peekRecvLen(), 0);
      assert.is(r.backend.stats.rxFrames, 1);
      assert.is(r.backend.stats.rxBytes, want);
      // an empty frame (header only) is a counted drop
      const txDrops = r.backend.stats.txDrops;
      assert.is(r.backend.send([new Uint8Array(hdrLen)], 1), 0);
      assert.is(r.backend.stats.txDrops, txDrops + 1);
    } finally {
      await r.done();
    }
  });
}

testWhen(test, pre, 'close: idempotent, releases the fd, every verb afterwards returns 0', async () => {
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  const r = await rig(true, VNET_HDR_LEN);
  let calls = 0;
  r.backend.attach({ rxReady: () => calls++ });
  r.backend.rxEnable();
  r.provoke(1);
  await waitFor(() => calls > 0, 5000, 'rxReady');
  await r.backend.close();
  await r.backend.close();
  const after = calls;
  assert.is(r.backend.send([new Uint8Array(100)], 1), 0);
  assert.is(r.backend.peekRecvLen(), 0);
  assert.is(r.backend.recv([new Uint8Array(100)], 1), 0);
  assert.is(r.backend.rxDiscard(), 0);
  assert.is(r.backend.getCap(), 0n);
  r.backend.setCap(0n, 0);
  r.backend.rxEnable();
  r.backend.rxDisable();
  await turns(5);
  assert.is(calls, after);
  r.ns.destroy();
  assert.is(fds(), before);
});

test.run();
