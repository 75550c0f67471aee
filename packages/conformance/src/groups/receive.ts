import * as assert from 'uvu/assert';
import { assertBytes } from '../kit';
import type { GroupBuilder } from '../group';

const needs = ['deliverToBackend'] as const;

/** peekRecvLen / recv / rxDiscard on frames the harness makes arrive. */
export const receiveGroup: GroupBuilder = () => [
  {
    name: 'with nothing waiting, peekRecvLen, recv and rxDiscard return 0',
    needs,
    fn: ({ backend }) => {
      assert.is(backend.peekRecvLen(), 0);
      assert.is(backend.recv([new Uint8Array(2048)], 1), 0);
      assert.is(backend.rxDiscard(), 0);
      assert.is(backend.stats.rxDrops, 0, 'an empty rxDiscard is not a drop');
    },
  },
  {
    name: 'a delivered frame is received whole; peekRecvLen gives its length and does not consume it',
    needs,
    fn: async (t, kit) => {
      const expected = await kit.deliver(t, kit.frame(100));
      const len = await kit.arrived(t.backend);
      assert.is(len, expected.length, 'peekRecvLen');
      assert.is(t.backend.peekRecvLen(), len, 'a second peekRecvLen');
      const before = { ...t.backend.stats };
      const buf = new Uint8Array(len);
      assert.is(t.backend.recv([buf], 1), len);
      assertBytes(buf, expected, 'received frame');
      assert.is(t.backend.stats.rxFrames - before.rxFrames, 1, 'rxFrames');
      const bytes = t.backend.stats.rxBytes - before.rxBytes;
      assert.ok(bytes === len, `rxBytes grew by ${bytes}, expected ${len}`);
      assert.is(t.backend.peekRecvLen(), 0, 'nothing left');
    },
  },
  {
    name: 'recv scatters into several segments and leaves bytes past the frame alone',
    needs,
    fn: async (t, kit) => {
      const expected = await kit.deliver(t, kit.frame(333));
      const len = await kit.arrived(t.backend);
      const buf = new Uint8Array(len + 50).fill(0xee);
      const iov = [buf.subarray(0, 1), buf.subarray(1, 1), buf.subarray(1, 100), buf.subarray(100, len + 50)];
      assert.is(t.backend.recv(iov, iov.length), len);
      assertBytes(buf.subarray(0, len), expected, 'scattered frame');
      assert.ok(buf.subarray(len).every((b) => b === 0xee), 'bytes past the frame were written');
    },
  },
  {
    name: 'recv into a too-small iov drops the frame (-1, rxDrops) and the next frame is intact',
    needs,
    fn: async (t, kit) => {
      const first = await kit.deliver(t, kit.frame(200));
      const second = await kit.deliver(t, kit.frame(90));
      const len = await kit.arrived(t.backend);
      assert.is(len, first.length);
      const before = { ...t.backend.stats };
      const half = (len - 1) >> 1;
      assert.is(t.backend.recv([new Uint8Array(half), new Uint8Array(len - 1 - half)], 2), -1, 'recv into len-1 bytes');
      assert.is(t.backend.stats.rxDrops - before.rxDrops, 1, 'rxDrops');
      assert.is(t.backend.stats.rxFrames - before.rxFrames, 0, 'rxFrames');
      assertBytes(await kit.receiveOne(t.backend), second, 'the next frame');
    },
  },
  {
    name: 'rxDiscard drops one frame, returns its length and counts it',
    needs,
    fn: async (t, kit) => {
      const first = await kit.deliver(t, kit.frame(150));
      const second = await kit.deliver(t, kit.frame(70));
      await kit.arrived(t.backend);
      const before = { ...t.backend.stats };
      assert.is(t.backend.rxDiscard(), first.length);
      assert.is(t.backend.stats.rxDrops - before.rxDrops, 1, 'rxDrops');
      assertBytes(await kit.receiveOne(t.backend), second, 'the next frame');
    },
  },
  {
    name: 'frames of every size up to maxFrameLength are received in order',
    needs,
    fn: async (t, kit) => {
      const sizes = [60, 61, 64, 128, 333, 1000, 1514, kit.maxFrame].filter((n) => n <= kit.maxFrame);
      const expected: Uint8Array[] = [];
      for (const n of sizes) expected.push(await kit.deliver(t, kit.frame(n)));
      for (let i = 0; i < expected.length; i++) assertBytes(await kit.receiveOne(t.backend), expected[i]!, `frame ${i}`);
    },
  },
];
