import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '@netbe/test-utils';
import { frame, frontend, makeRig, type Rig } from './helpers';
import { Req, encodeVringState } from '../src/index';

let rig: Rig;
test.before.each(async () => {
  rig = await makeRig();
});
test.after.each(async () => {
  await rig.close();
});

const HDR = 12;

test('set-up like QEMU, then frames both ways through shared memory and eventfds', async () => {
  const fe = frontend(rig);
  try {
    await fe.setUp();
    assert.ok(rig.server.connected);
    assert.equal(rig.server.session!.runningRings(), [0, 1]);
    const [rx, tx] = fe.drivers as [typeof fe.drivers[0], typeof fe.drivers[0]];
    // Guest TX: header + frame in one chain.
    const received: Uint8Array[] = [];
    rig.wire.attach({
      rxReady: () => {
        for (let n; (n = rig.wire.peekRecvLen()) > 0; ) {
          const buf = new Uint8Array(n);
          rig.wire.recv([buf], 1);
          received.push(buf);
        }
      },
    });
    rig.wire.rxEnable();
    const out = frame(100, 7);
    const packet = new Uint8Array(HDR + out.length);
    packet.set(out, HDR);
    tx.postAndKick({ readable: [packet] });
    await waitFor(() => received.length === 1, 5000, 'the frame on the wire');
    assert.equal(received[0]!.subarray(received[0]!.length - out.length), out);
    await waitFor(() => tx.pendingUsed() === 1, 5000, 'the TX chain returned');
    // Guest RX: post buffers, the wire sends, an interrupt arrives on the call eventfd.
    for (let i = 0; i < 4; i++) rx.postAndKick({ writable: [2048] });
    const back = frame(200, 9);
    rig.wire.send([back], 1);
    await waitFor(() => rx.interrupts > 0 && rx.pendingUsed() === 1, 5000, 'an RX interrupt');
    const used = rx.takeUsed()!;
    assert.equal(used.len, HDR + back.length);
    assert.equal(used.written.subarray(HDR, HDR + back.length), back);
  } finally {
    fe.close();
  }
});

test('GET_VRING_BASE stops the ring and returns the next avail index; SET_VRING_BASE resumes there', async () => {
  const fe = frontend(rig);
  try {
    await fe.setUp();
    const tx = fe.drivers[1]!;
    const sent = { n: 0 };
    rig.wire.attach({ rxReady: () => { while (rig.wire.rxDiscard() > 0) sent.n++; } });
    rig.wire.rxEnable();
    for (let i = 0; i < 3; i++) {
      const p = new Uint8Array(HDR + 60);
      p.set(frame(60, i), HDR);
      tx.postAndKick({ readable: [p] });
    }
    await waitFor(() => sent.n === 3, 5000, 'three frames');
    assert.is(await fe.getVringBase(1), 3);
    assert.equal(rig.server.session!.runningRings(), [0]);
    // While stopped, a kick does nothing.
    const p = new Uint8Array(HDR + 60);
    tx.postAndKick({ readable: [p] });
    await new Promise((r) => setTimeout(r, 50));
    assert.is(sent.n, 3);
    // Restart from 3: the fourth chain goes out.
    fe.setUpRing(1, 3);
    fe.send(Req.SET_VRING_ENABLE, encodeVringState({ index: 1, num: 1 }));
    await waitFor(() => sent.n === 4, 5000, 'the fourth frame after restart');
  } finally {
    fe.close();
  }
});

test('disconnect resets the device and the next front-end is served', async () => {
  const first = frontend(rig);
  await first.setUp();
  first.close();
  await waitFor(() => !rig.server.connected, 5000, 'the disconnect');
  assert.not.ok(rig.net.isStarted);
  const second = frontend(rig);
  try {
    await second.setUp();
    assert.is(rig.server.connectionsAccepted, 2);
    assert.equal(rig.server.session!.runningRings(), [0, 1]);
  } finally {
    second.close();
  }
});

test.run();
