// @timeout 120
// A hostile guest: random virtio-net headers (GSO types, sizes, checksum offsets) in front of
// random and half-valid frames. Each send is a counted frame or a counted drop, nothing throws,
// and the tap still carries traffic afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createBackend, NET_OFFLOAD_FEATURES, VNET_HDR_LEN } from '@netbe/core';
import { hasCommand, hasDevice, isRoot, prerequisite, testWhen } from '@netbe/test-utils';
import { createNetns, uniqueIfname } from '../../../tools/netns';
import '../src/index';
import type { TapBackend } from '../src/index';
import { BackendPort } from './backend-port';
import { GuestHost, ipv4, macBytes } from './guest-host';

const pre = prerequisite(
  [isRoot(), 'needs root (CAP_NET_ADMIN, namespaces)'],
  [hasDevice('/dev/net/tun'), 'needs /dev/net/tun'],
  [hasCommand('ip'), 'needs iproute2'],
);

const header = fc.record({
  flags: fc.integer({ min: 0, max: 255 }),
  gsoType: fc.constantFrom(0, 1, 3, 4, 5, 0x81, 0x84, 2, 0x7f, 255),
  hdrLen: fc.integer({ min: 0, max: 0xffff }),
  gsoSize: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffff })),
  csumStart: fc.integer({ min: 0, max: 0xffff }),
  csumOffset: fc.integer({ min: 0, max: 0xffff }),
});

/** A frame that starts as IPv4/TCP (so the kernel parses deeper) or is pure noise. */
const frame = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 70000 }), fc.integer({ min: 0, max: 0xffffffff })).map(([ipv4Like, len, seed]) => {
  const f = new Uint8Array(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    f[i] = x & 0xff;
  }
  if (ipv4Like && len >= 54) {
    f[12] = 8;
    f[13] = 0;
    f[14] = 0x45;
    f[23] = 6;
  }
  return f;
});

testWhen(test, pre, 'random headers and frames: counted, never thrown; the tap still works after', async () => {
  const ifname = uniqueIfname('nbhost');
  const backend = (await createBackend(`tap,ifname=${ifname}`)) as TapBackend;
  const ns = createNetns('hostile');
  try {
    ns.adopt(ifname);
    ns.configure(ifname, '10.86.0.1/24');
    backend.setCap(NET_OFFLOAD_FEATURES & backend.getCap(), VNET_HDR_LEN);
    let sends = 0;
    fc.assert(
      fc.property(header, frame, (h, f) => {
        const hdr = new Uint8Array(12);
        hdr[0] = h.flags;
        hdr[1] = h.gsoType;
        new DataView(hdr.buffer).setUint16(2, h.hdrLen, true);
        new DataView(hdr.buffer).setUint16(4, h.gsoSize, true);
        new DataView(hdr.buffer).setUint16(6, h.csumStart, true);
        new DataView(hdr.buffer).setUint16(8, h.csumOffset, true);
        const n = backend.send([hdr, f], 2);
        sends++;
        return n === 0 || n === 12 + f.length;
      }),
      { numRuns: 400 },
    );
    const { txFrames, txDrops } = backend.stats;
    assert.is(txFrames + txDrops, sends);
    assert.ok(txDrops > 0, 'some of those must have been refused');
    assert.ok(backend.linkUp);
    const port = new BackendPort(backend);
    const host = new GuestHost(macBytes('02:00:00:4e:42:05'), ipv4('10.86.0.2'), port);
    port.host = host;
    backend.rxEnable();
    await host.ping(ipv4('10.86.0.1'), 1);
    assert.is(host.counters.checksumErrors, 0);
  } finally {
    await backend.close();
    ns.destroy();
  }
});

test.run();
