/**
 * Ring-logic cases that run on any netmap system: the in-process double (ring-logic.test.ts)
 * and, when /dev/netmap exists, the kernel (kernel.test.ts). Two VALE ports on one switch.
 */
import * as assert from 'uvu/assert';
import type { Test } from 'uvu';
import { NETMAP_MAX_FRAGS } from '@netbe/netmap-bindings';
import { NetmapBackend, NETMAP_FEATURES } from '../src/index';
import type { NetmapSystem } from '@netbe/netmap-bindings';

export interface RingEnv {
  system: NetmapSystem;
  /** A fresh switch name for each case. */
  switchName(): string;
  /** Lets frames in flight settle (the kernel forwards on txsync; nothing to wait for here). */
  settle?(): Promise<void>;
}

/**
 * A frame whose bytes encode `seq` and their position, behind a real Ethernet address pair:
 * broadcast from one locally administered unicast address. The kernel's VALE switch learns
 * source addresses, so frames with arbitrary bytes there get sent back to the port that "owns"
 * an address an earlier frame used as its source, and dropped (seen on a real module).
 */
export function pattern(len: number, seq: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + seq * 13) & 0xff;
  f.fill(0xff, 0, Math.min(len, 6));
  if (len > 6) f.set([0x02, 0, 0, 0, 0, 0x0a].slice(0, len - 6), 6);
  return f;
}

/** Splits `frame` into segments at the given cut points. */
export function split(frame: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(frame.length, Math.max(0, c))))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(frame.subarray(at, p));
    at = p;
  }
  out.push(frame.subarray(at));
  return out;
}

export function openPair(env: RingEnv): { a: NetmapBackend; b: NetmapBackend; close(): Promise<void> } {
  const sw = env.switchName();
  const a = NetmapBackend.open(`${sw}:a`, env.system);
  const b = NetmapBackend.open(`${sw}:b`, env.system);
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
}

/** Registers the shared cases on `test`. */
export function ringCases(test: Test, env: RingEnv): void {
  const settle = async (): Promise<void> => env.settle?.();

  test('frames of 1 to 64 slots cross the switch intact; 65 slots is a counted drop', async () => {
    const { a, b, close } = openPair(env);
    try {
      const bufSize = (a as unknown as { txRings: Array<{ view: { bufSize: number } }> }).txRings[0]!.view.bufSize;
      const maxLen = 65535; // what a slot chain may carry through VALE
      for (const slots of [1, 2, 3, 5, 8, 17, 32, 63, 64]) {
        const len = Math.min(maxLen, slots * bufSize - (slots > 1 ? bufSize >> 1 : 0));
        const frame = pattern(len, slots);
        assert.is(a.send(split(frame, [1, 13, bufSize - 1, bufSize + 1, len >> 1]), 6), len, `send ${slots} slots`);
        await settle();
        assert.is(b.peekRecvLen(), len, `peek ${slots} slots`);
        const out = [new Uint8Array(3), new Uint8Array(bufSize), new Uint8Array(len)];
        assert.is(b.recv(out, 3), len);
        const got = new Uint8Array(len);
        got.set(out[0]!.subarray(0, Math.min(3, len)));
        if (len > 3) got.set(out[1]!.subarray(0, Math.min(bufSize, len - 3)), 3);
        if (len > 3 + bufSize) got.set(out[2]!.subarray(0, len - 3 - bufSize), 3 + bufSize);
        assert.equal(got, frame, `bytes of a ${slots}-slot frame`);
      }
      if ((NETMAP_MAX_FRAGS + 1) * bufSize <= maxLen + bufSize) {
        const drops = a.stats.txDrops;
        assert.is(a.send([new Uint8Array(NETMAP_MAX_FRAGS * bufSize + 1)], 1), 0);
        assert.is(a.stats.txDrops, drops + 1);
        assert.is(a.netmap.txTooBig, 1);
      }
      assert.is(b.peekRecvLen(), 0);
    } finally {
      await close();
    }
  });

  test('an empty ring: peekRecvLen, recv and rxDiscard all answer 0', async () => {
    const { b, close } = openPair(env);
    try {
      assert.is(b.peekRecvLen(), 0);
      assert.is(b.recv([new Uint8Array(2048)], 1), 0);
      assert.is(b.rxDiscard(), 0);
      assert.equal(b.stats, { txFrames: 0, txBytes: 0, txDrops: 0, rxFrames: 0, rxBytes: 0, rxDrops: 0 });
    } finally {
      await close();
    }
  });

  test('a full RX ring: what does not fit is dropped by the switch, then traffic flows again', async () => {
    const { a, b, close } = openPair(env);
    try {
      const slots = (b as unknown as { rxRings: Array<{ view: { numSlots: number } }> }).rxRings[0]!.view.numSlots;
      const burst = slots + 20;
      for (let i = 0; i < burst; i++) assert.is(a.send([pattern(60, i)], 1), 60);
      await settle();
      let got = 0;
      let expectSeq = 0;
      for (let len = b.peekRecvLen(); len > 0; len = b.peekRecvLen()) {
        const buf = new Uint8Array(len);
        assert.is(b.recv([buf], 1), 60);
        assert.equal(buf, pattern(60, expectSeq++), 'frames arrive in order, the first ones');
        got++;
      }
      assert.ok(got >= 1 && got <= slots - 1, `received ${got} of ${burst} (ring of ${slots})`);
      assert.is(a.send([pattern(60, 999)], 1), 60);
      await settle();
      const buf = new Uint8Array(60);
      assert.is(b.recv([buf], 1), 60);
      assert.equal(buf, pattern(60, 999), 'traffic flows again once drained');
    } finally {
      await close();
    }
  });

  test('rxDiscard drops one whole multi-slot frame; a too-small iov drops it with -1', async () => {
    const { a, b, close } = openPair(env);
    try {
      const bufSize = (a as unknown as { txRings: Array<{ view: { bufSize: number } }> }).txRings[0]!.view.bufSize;
      const big = Math.min(5000, 40 * bufSize - 5);
      const mid = Math.min(3000, 30 * bufSize - 7);
      assert.is(a.send([pattern(big, 1)], 1), big);
      assert.is(a.send([pattern(mid, 2)], 1), mid);
      a.send([pattern(100, 3)], 1);
      await settle();
      assert.is(b.rxDiscard(), big);
      assert.is(b.recv([new Uint8Array(mid - 1)], 1), -1);
      assert.is(b.stats.rxDrops, 2);
      const buf = new Uint8Array(100);
      assert.is(b.recv([buf], 1), 100);
      assert.equal(buf, pattern(100, 3));
    } finally {
      await close();
    }
  });

  test('VALE ports take virtio-net headers: caps 0x5D83, the switch adapts lengths between ports', async () => {
    const { a, b, close } = openPair(env);
    try {
      assert.is(a.getCap(), NETMAP_FEATURES);
      assert.is(NETMAP_FEATURES, 0x5d83n);
      a.setCap(NETMAP_FEATURES, 12);
      b.setCap(0n, 10);
      assert.is(a.vnetHdrLen, 12);
      const hdr = new Uint8Array(12);
      const body = pattern(200, 5);
      assert.is(a.send([hdr, body], 2), 212);
      await settle();
      assert.is(b.peekRecvLen(), 210, 'b gets its own 10-byte header and the frame');
      const buf = new Uint8Array(210);
      assert.is(b.recv([buf], 1), 210);
      assert.equal(buf.subarray(10), body);
      b.setCap(0n, 0);
      a.send([hdr, body], 2);
      await settle();
      const bare = new Uint8Array(200);
      assert.is(b.recv([bare], 1), 200);
      assert.equal(bare, body);
    } finally {
      await close();
    }
  });

  test('rxReady: nothing before rxEnable, called once frames wait, never after rxDisable', async () => {
    const { a, b, close } = openPair(env);
    try {
      let calls = 0;
      b.attach({ rxReady: () => void calls++ });
      a.send([pattern(64, 1)], 1);
      await new Promise((r) => setTimeout(r, 10));
      assert.is(calls, 0);
      b.rxEnable();
      for (let i = 0; i < 200 && calls === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(calls > 0, 'rxReady after rxEnable with a frame waiting');
      b.rxDisable();
      const seen = calls;
      a.send([pattern(64, 2)], 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.is(calls, seen);
    } finally {
      await close();
    }
  });
}
