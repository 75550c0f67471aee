// @timeout 180
// @netbe/conformance on the tap backend. The far side of the wire is an AF_PACKET socket bound
// to the same interface: a frame written to it goes out of the interface into our tap fd (the
// backend receives it), and a frame the backend sends is received by the interface, where the
// socket reads it. IPv6 is off on the interface so the kernel adds no traffic of its own.
import { createBackend } from '@netbe/core';
import { backendConformance } from '@netbe/conformance';
import { hasDevice, isRoot, prerequisite } from '@netbe/test-utils';
import { sys } from '@netbe/sys';
import { setSysctl, uniqueIfname } from '../../../tools/netns';
import '../src/index';
import type { TapBackend } from '../src/index';

for (const vnetHdr of [true, false]) {
  backendConformance({
    name: `tap (vnet_hdr=${vnetHdr ? 'on' : 'off'})`,
    supports: {
      send: true,
      receive: true,
      vnetHeader: vnetHdr ? true : { notApplicable: 'vnet_hdr=off: like bhyve, the backend uses no header and the device adapts' },
      reopen: true,
    },
    prerequisite: prerequisite([isRoot(), 'needs root (CAP_NET_ADMIN)'], [hasDevice('/dev/net/tun'), 'needs /dev/net/tun']),
    create: async () => {
      const ifname = uniqueIfname('nbcf');
      const backend = (await createBackend(`tap,ifname=${ifname},vnet_hdr=${vnetHdr ? 'on' : 'off'},up=off`)) as TapBackend;
      setSysctl(`net.ipv6.conf.${ifname}.disable_ipv6`, 1);
      sys.linkSetUp(ifname);
      const wire = sys.packetOpen(ifname);
      const buf = new Uint8Array(65536);
      return {
        backend,
        deliverToBackend: (frame: Uint8Array) => {
          if (sys.write(wire, frame) !== frame.length) throw new Error(`packet socket on ${ifname} did not take the frame`);
        },
        collectFromBackend: () => {
          const frames: Uint8Array[] = [];
          for (let n; (n = sys.read(wire, buf)) > 0; ) frames.push(buf.slice(0, n));
          return frames;
        },
        close: () => sys.close(wire),
      };
    },
  }).run();
}
