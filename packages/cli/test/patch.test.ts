/**
 * `netbe patch SPEC SPEC` with memory pairs on both ends: frames cross both ways, headers pass
 * when both ends carry offloads and are dropped when one does not, backpressure is a counted
 * drop, usage errors name the argument, SIGINT/SIGTERM stop it cleanly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackend, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4, type NetBackend } from '@netbe/core';
import '@netbe/backend-memory';
import { waitFor, withTimeout } from '@netbe/test-utils';
import { main, patchFeatures, type Io } from '../src/index';

function io(): Io & { lines: string[]; stop: (s: string) => void } {
  const lines: string[] = [];
  let stop!: (s: string) => void;
  const stopRequested = new Promise<string>((r) => {
    stop = r;
  });
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l), stopRequested, stop };
}

/** Collects what an end receives. */
function collect(be: NetBackend): Uint8Array[] {
  const got: Uint8Array[] = [];
  const buf = new Uint8Array(70_000);
  be.attach({
    rxReady: () => {
      for (let n = be.recv([buf], 1); n > 0; n = be.recv([buf], 1)) got.push(buf.slice(0, n));
    },
  });
  be.rxEnable();
  return got;
}

function frame(size: number, tag: number): Uint8Array {
  const f = new Uint8Array(size);
  f.fill(0xff, 0, 6);
  f.set([2, 0, 0, 0, 0, 1], 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  return f;
}

let seq = 0;
async function startPatch(specA: string, specB: string, extra: string[] = []): Promise<{ x: ReturnType<typeof io>; done: Promise<number> }> {
  const x = io();
  const done = main(['patch', specA, specB, ...extra], x);
  await waitFor(() => x.lines.some((l) => /patched|netbe: .*:/.test(l)), 10_000, 'patch to start');
  return { x, done };
}

test('patchFeatures pairs each guest-RX offload with the peer accepting it on send', () => {
  const slirp = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4;
  assert.is(patchFeatures(slirp, slirp), slirp);
  // The peer accepts partial checksums but produces nothing: self may produce, not accept.
  assert.is(patchFeatures(slirp, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4), VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4);
  // TSO without checksum offload is not allowed.
  assert.is(patchFeatures(slirp, VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_GUEST_TSO4), 0n);
  assert.is(patchFeatures(0n, slirp), 0n);
});

test('frames cross both ways with their virtio-net headers when both ends carry them', async () => {
  const n = ++seq;
  const left = await createBackend(`memory,mode=pair,peer=pl${n}`);
  const right = await createBackend(`memory,mode=pair,peer=pr${n}`);
  left.setCap(VIRTIO_NET_F_CSUM, 12);
  right.setCap(VIRTIO_NET_F_GUEST_CSUM, 12);
  const gotLeft = collect(left);
  const gotRight = collect(right);
  const { x, done } = await startPatch(`memory,mode=pair,peer=pl${n}`, `memory,mode=pair,peer=pr${n}`, ['--stats', '0.05']);
  assert.match(x.lines.join('\n'), /virtio-net header 12/);
  const hdr = new Uint8Array(12);
  hdr[0] = 1; // NEEDS_CSUM
  hdr[6] = 34; // csum_start
  hdr[8] = 16; // csum_offset
  left.send([hdr, frame(1500, 1)], 2);
  left.send([hdr, frame(60_000, 2)], 2);
  right.send([new Uint8Array(12), frame(64, 3)], 2);
  await waitFor(() => gotRight.length === 2 && gotLeft.length === 1, 5_000, 'frames through the patch');
  assert.is(gotRight[0]!.length, 12 + 1500);
  assert.is(gotRight[0]![0], 1, 'the header crossed');
  assert.is(gotRight[0]![6], 34);
  assert.is(gotRight[1]!.length, 12 + 60_000);
  assert.is(gotRight[1]![12 + 14], 2);
  assert.is(gotLeft[0]!.length, 12 + 64);
  assert.is(gotLeft[0]![12 + 14], 3);
  await waitFor(() => x.lines.some((l) => /a→b .*Mbit\/s 0 drops \| b→a/.test(l) && !/a→b 0 frames/.test(l)), 5_000, 'a stats line with traffic');
  x.stop('SIGTERM');
  assert.is(await withTimeout(5_000, done, 'patch stopping'), 0);
  assert.match(x.lines.join('\n'), /SIGTERM: shutting down[\s\S]*stopped/);
  // The patch closed its ends: ours now have no peer and our sends are counted drops.
  const before = left.stats.txDrops;
  left.send([hdr, frame(100, 4)], 2);
  assert.is(left.stats.txDrops, before + 1);
  await Promise.all([left.close(), right.close()]);
});

test('an end without offloads makes both ends plain; headers are stripped on the way (busy polling off)', async () => {
  const n = ++seq;
  const left = await createBackend(`memory,mode=pair,peer=ql${n}`);
  const right = await createBackend(`memory,mode=pair,peer=qr${n}`);
  left.setCap(0n, 12);
  right.setCap(0n, 0);
  const gotRight = collect(right);
  const gotLeft = collect(left);
  const { x, done } = await startPatch(`memory,mode=pair,peer=ql${n}`, `memory,mode=pair,peer=qr${n},caps=none`, ['--busy-poll', '0']);
  assert.match(x.lines.join('\n'), /plain frames, no offloads/);
  left.send([new Uint8Array(12), frame(200, 7)], 2);
  right.send([frame(80, 8)], 1);
  await waitFor(() => gotRight.length === 1 && gotLeft.length === 1, 5_000, 'plain frames through the patch');
  assert.is(gotRight[0]!.length, 200, 'no header on the plain side');
  assert.is(gotRight[0]![14], 7);
  assert.is(gotLeft[0]!.length, 12 + 80, 'left still gets its own header (zero-filled)');
  x.stop('SIGINT');
  assert.is(await withTimeout(5_000, done, 'patch stopping'), 0);
  await Promise.all([left.close(), right.close()]);
});

test('backpressure: a full receiving end is a counted drop, and the patch keeps going', async () => {
  const n = ++seq;
  const left = await createBackend(`memory,mode=pair,peer=bl${n}`);
  const right = await createBackend(`memory,mode=pair,peer=br${n},queue=4`);
  // right's own end is never drained: its queue (4 frames) fills.
  const { x, done } = await startPatch(`memory,mode=pair,peer=bl${n}`, `memory,mode=pair,peer=br${n},queue=4`, ['--stats', '0.05']);
  for (let i = 0; i < 20; i++) left.send([frame(100, i)], 1);
  await waitFor(() => x.lines.some((l) => /a→b \S+ frames\/s \S+ \S*bit\/s (1[0-9]|[2-9]\d*) drops/.test(l)), 5_000, 'drops in the stats line');
  const text = x.lines.join('\n');
  const drops = [...text.matchAll(/a→b \S+ frames\/s \S+ \S*bit\/s (\d+) drops/g)].reduce((s, m) => s + Number(m[1]), 0);
  assert.ok(drops >= 16 && drops <= 20, `drops counted: ${drops}`);
  x.stop('SIGTERM');
  assert.is(await withTimeout(5_000, done, 'patch stopping'), 0);
  await Promise.all([left.close(), right.close()]);
});

test('usage errors name the argument or option', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['patch'], /SPEC: patch needs exactly two backend specs \(got 0\)/],
    [['patch', 'memory'], /exactly two .*got 1/],
    [['patch', 'memory', 'memory', 'memory'], /got 3/],
    [['patch', 'nosuch', 'memory'], /first SPEC: no backend is called "nosuch"/],
    [['patch', 'memory', 'memory,mode=bogus'], /second SPEC: memory,mode=bogus: mode:/],
    [['patch', 'memory', 'memory', '--stats', 'x'], /--stats: "x"/],
    [['patch', 'memory', 'memory', '--frob'], /--frob: unknown option/],
    [['patch', 'memory', 'memory', '--busy-poll', '-1'], /--busy-poll/],
    [['patch', 'memory', 'memory', '--busy-poll', '2ms'], /--busy-poll: "2ms" is not a whole number/],
  ];
  for (const [argv, re] of cases) {
    const x = io();
    const code = await main(argv, x);
    assert.is(code, 2, `${argv.join(' ')} -> ${x.lines.join(' / ')}`);
    assert.match(x.lines.join('\n'), re);
  }
});

test.run();
