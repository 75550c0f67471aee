import * as assert from 'uvu/assert';
import type { BackendStats, NetBackend } from '@netbe/core';
import type { GroupBuilder } from '../group';

/** Checks one send against the counters: a frame counted, or a drop counted; never both. */
export function checkSendAccounting(be: NetBackend, before: BackendStats, returned: number, offered: number, what: string): void {
  const s = be.stats;
  assert.ok(returned >= 0, `${what}: send returned ${returned}, must be ≥ 0`);
  if (returned > 0) {
    assert.is(returned, offered, `${what}: send returned ${returned} for a ${offered}-byte frame`);
    assert.is(s.txFrames - before.txFrames, 1, `${what}: txFrames must grow by one`);
    assert.is(s.txDrops - before.txDrops, 0, `${what}: a sent frame is not a drop`);
    const bytes = s.txBytes - before.txBytes;
    assert.ok(bytes === returned || bytes === returned - be.vnetHdrLen, `${what}: txBytes grew by ${bytes}, expected ${returned}`);
  } else {
    assert.is(s.txDrops - before.txDrops, 1, `${what}: send returned 0, so txDrops must grow by one`);
    assert.is(s.txFrames - before.txFrames, 0, `${what}: a dropped frame is not counted in txFrames`);
  }
}

const snapshot = (be: NetBackend): BackendStats => ({ ...be.stats });

/** send never throws, and every call is either a counted frame or a counted drop. */
export const sendAccountingGroup: GroupBuilder = () => [
  {
    name: 'a send is a counted frame (returning its length) or a counted drop (returning 0)',
    fn: ({ backend }, kit) => {
      for (const len of [60, 1514 > kit.maxFrame ? kit.maxFrame : 1514]) {
        const before = snapshot(backend);
        checkSendAccounting(backend, before, backend.send([kit.frame(len)], 1), len, `${len}-byte frame`);
      }
    },
  },
  {
    name: 'an empty frame is a counted drop',
    fn: ({ backend }) => {
      for (const [iov, n] of [[[], 0], [[new Uint8Array(0)], 1], [[new Uint8Array(0), new Uint8Array(0)], 2]] as const) {
        const before = snapshot(backend);
        assert.is(backend.send(iov, n), 0);
        assert.is(backend.stats.txDrops - before.txDrops, 1, 'txDrops');
      }
    },
  },
  {
    name: 'a frame larger than any backend carries (300 000 bytes) is a counted drop, not a throw',
    fn: ({ backend }) => {
      const before = snapshot(backend);
      assert.is(backend.send([new Uint8Array(300_000)], 1), 0);
      assert.is(backend.stats.txDrops - before.txDrops, 1);
    },
  },
  {
    name: 'a frame shorter than the vnet header is a counted drop',
    fn: ({ backend }) => {
      try {
        backend.setCap(0n, 12);
      } catch {
        return; // no header: nothing to be shorter than (caps group checks the refusal)
      }
      if (backend.vnetHdrLen === 0) return;
      for (const len of [1, backend.vnetHdrLen - 1, backend.vnetHdrLen]) {
        const before = snapshot(backend);
        assert.is(backend.send([new Uint8Array(len)], 1), 0, `${len} bytes with a ${backend.vnetHdrLen}-byte header`);
        assert.is(backend.stats.txDrops - before.txDrops, 1);
      }
    },
  },
  {
    name: 'only iov[0..iovcnt) is sent; an iovcnt beyond the array does not throw',
    fn: ({ backend }, kit) => {
      const f = kit.frame(64);
      let before = snapshot(backend);
      checkSendAccounting(backend, before, backend.send([f.subarray(0, 60), f.subarray(60), new Uint8Array(500)], 2), 64, 'iovcnt 2 of 3');
      before = snapshot(backend);
      const n = backend.send([kit.frame(60)], 4);
      assert.ok(n === 0 || n === 60, `send with iovcnt 4 over one segment returned ${n}`);
      assert.is(backend.stats.txFrames + backend.stats.txDrops - before.txFrames - before.txDrops, 1);
    },
  },
  {
    name: 'a burst of 1000 sends without a reader never throws and counts every frame or drop',
    fn: ({ backend }, kit) => {
      const before = snapshot(backend);
      const f = kit.frame(60);
      let sent = 0;
      for (let i = 0; i < 1000; i++) if (backend.send([f], 1) > 0) sent++;
      assert.is(backend.stats.txFrames - before.txFrames, sent);
      assert.is(backend.stats.txDrops - before.txDrops, 1000 - sent);
    },
  },
];
