import * as assert from 'uvu/assert';
import {
  decodeVnetHeader,
  emptyVnetHeader,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_F_RSC_INFO,
  VIRTIO_NET_HDR_GSO_NONE,
} from '@netbe/core';
import { concatBytes } from '../frames';
import { assertBytes, type TestContext } from '../kit';
import { applies, type GroupBuilder, type KitTest } from '../group';

const KNOWN_FLAGS = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_RSC_INFO;

function useHeader(t: TestContext, len: number): void {
  t.backend.setCap(0n, len);
  assert.is(t.backend.vnetHdrLen, len, `vnetHdrLen after setCap(0, ${len})`);
}

/** Checks a received header: a plain one (kit frames are neither GSO nor checksum-offloaded). */
function checkHeader(bytes: Uint8Array, len: number): void {
  const h = emptyVnetHeader();
  assert.ok(decodeVnetHeader(bytes, 0, len, h), 'header decodes');
  assert.is(h.flags & ~KNOWN_FLAGS, 0, `unknown header flags 0x${h.flags.toString(16)}`);
  assert.is(h.gsoType, VIRTIO_NET_HDR_GSO_NONE, 'a plain frame arrives with gso_type NONE');
  // num_buffers (12-byte form) is the device's to write; a tap leaves those bytes untouched.
}

/** The backend carries 10- and 12-byte virtio-net headers itself (virtio 1.2 §5.1.6). */
export const vnetHeaderGroup: GroupBuilder = (supports) => {
  const tests: KitTest[] = [];
  for (const len of [10, 12]) {
    tests.push({
      name: `setCap(0, ${len}): vnetHdrLen is ${len}`,
      fn: (t) => useHeader(t, len),
    });
    if (applies(supports.send)) {
      tests.push({
        name: `send with a ${len}-byte header (own segment, or joined to the frame): the far side gets the bare frame`,
        needs: ['collectFromBackend'],
        fn: async (t, kit) => {
          useHeader(t, len);
          const a = kit.frame(100);
          const b = kit.frame(1000 <= kit.maxFrame ? 1000 : kit.maxFrame);
          assert.is(t.backend.send([new Uint8Array(len), a], 2), len + a.length, 'header in its own segment');
          const joined = concatBytes(new Uint8Array(len), b);
          assert.is(t.backend.send([joined], 1), joined.length, 'header joined to the frame');
          const got = await kit.collect(t, 2);
          assertBytes(got[0]!, a, 'first frame');
          assertBytes(got[1]!, b, 'second frame');
        },
      });
    }
    if (applies(supports.receive)) {
      tests.push({
        name: `receive with a ${len}-byte header: peekRecvLen counts it, it decodes as a plain header, the frame follows`,
        needs: ['deliverToBackend'],
        fn: async (t, kit) => {
          useHeader(t, len);
          const expected = await kit.deliver(t, kit.frame(120));
          const total = await kit.arrived(t.backend);
          assert.is(total, len + expected.length, 'peekRecvLen includes the header');
          const got = await kit.receiveOne(t.backend);
          checkHeader(got, len);
          assertBytes(got.subarray(len), expected, 'frame after the header');
        },
      });
      tests.push({
        name: `recv with the ${len}-byte header in its own segment (the legacy driver layout)`,
        needs: ['deliverToBackend'],
        fn: async (t, kit) => {
          useHeader(t, len);
          const expected = await kit.deliver(t, kit.frame(64));
          await kit.arrived(t.backend);
          const hdr = new Uint8Array(len).fill(0xee);
          const body = new Uint8Array(2048);
          assert.is(t.backend.recv([hdr, body], 2), len + expected.length);
          checkHeader(hdr, len);
          assertBytes(body.subarray(0, expected.length), expected, 'frame');
        },
      });
    }
  }
  if (applies(supports.send) && applies(supports.receive)) {
    tests.push({
      name: 'switching the header length (12, then 0) applies to the next frames',
      needs: ['deliverToBackend', 'collectFromBackend'],
      fn: async (t, kit) => {
        useHeader(t, 12);
        const a = kit.frame(70);
        assert.is(t.backend.send([new Uint8Array(12), a], 2), 82);
        assertBytes((await kit.collect(t, 1))[0]!, a, 'frame sent with the header');
        t.backend.setCap(0n, 0);
        const b = kit.frame(71);
        assert.is(t.backend.send([b], 1), 71);
        assertBytes((await kit.collect(t, 1))[0]!, b, 'frame sent without the header');
        const expected = await kit.deliver(t, kit.frame(72));
        assertBytes(await kit.receiveOne(t.backend), expected, 'frame received without the header');
      },
    });
  }
  return tests;
};
