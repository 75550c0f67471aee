import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryPair } from '@netbe/backend-memory';
import { waitFor } from '@netbe/test-utils';
import { F_EVENT_IDX, F_NOTIFY_ON_EMPTY } from '../src/features';
import { TestGuest, makeFrame } from '@netbe/virtio-net/testing';

function setup(without = 0n) {
  const [dev, peer] = createMemoryPair({ vnetHdr: false, caps: 0n, queue: 512 });
  peer.setCap(0n, 0);
  return { g: new TestGuest({ backend: dev, wanted: ~without }), peer };
}

test('a kick drains every chain: one publish, one interrupt for 100 frames (EVENT_IDX)', () => {
  const { g } = setup();
  for (let i = 0; i < 100; i++) g.send(makeFrame(64, i), { kick: false });
  assert.ok(g.txDriver.kick());
  assert.is(g.device.stats.tx.frames, 100);
  assert.is(g.device.stats.tx.batches, 1);
  assert.is(g.interrupts[1], 1);
  assert.is(g.txDriver.usedRingIdx(), 100);
  // EVENT_IDX (§2.7.10): after the drain the device asks to be kicked at the next chain.
  assert.is(g.txDriver.availEvent(), 100);
});

test('EVENT_IDX: used_event far away suppresses interrupts; moved back, the next batch interrupts', () => {
  // A modern driver does not accept the legacy NOTIFY_ON_EMPTY (which would force an interrupt
  // whenever TX drains the ring, §6.3).
  const { g } = setup(F_NOTIFY_ON_EMPTY);
  g.txDriver.disableInterrupts();
  for (let i = 0; i < 10; i++) g.send(makeFrame(64, i));
  assert.is(g.device.stats.tx.frames, 10);
  assert.is(g.interrupts[1], 0);
  g.txDriver.takeAllUsed();
  g.txDriver.enableInterrupts();
  g.send(makeFrame(64, 99));
  assert.is(g.interrupts[1], 1);
});

test('without EVENT_IDX: NO_INTERRUPT suppresses; NOTIFY_ON_EMPTY interrupts anyway once the ring is drained', () => {
  const quiet = setup(F_EVENT_IDX | F_NOTIFY_ON_EMPTY).g;
  quiet.txDriver.disableInterrupts();
  for (let i = 0; i < 5; i++) quiet.send(makeFrame(64, i));
  assert.is(quiet.interrupts[1], 0, 'NO_INTERRUPT honoured');
  const legacy = new TestGuest({ backend: createMemoryPair({ vnetHdr: false, caps: 0n })[0], legacy: true, wanted: ~F_EVENT_IDX });
  assert.ok((legacy.features & F_NOTIFY_ON_EMPTY) !== 0n);
  legacy.txDriver.disableInterrupts();
  legacy.send(makeFrame(64, 1));
  assert.is(legacy.interrupts[1], 1, 'NOTIFY_ON_EMPTY: the ring is empty, interrupt regardless (§6.3)');
});

test('RX kicks are suppressed while the device has buffers, and requested again when it runs dry', async () => {
  for (const without of [0n, F_EVENT_IDX]) {
    const { g, peer } = setup(without);
    g.postRx(4, 2048);
    for (let i = 0; i < 4; i++) peer.send([makeFrame(64, i)], 1);
    await waitFor(() => g.device.stats.rx.frames === 4);
    // Now out of buffers: the device stalled and wants a kick for the next buffer.
    await waitFor(() => g.device.stats.rx.rxStalls >= 1 || peer.stats.txFrames === 4);
    peer.send([makeFrame(64, 4)], 1);
    await waitFor(() => g.device.stats.rx.rxStalls >= 1);
    const kicksBefore = g.rxDriver.kicks;
    g.rxDriver.post({ writable: [2048] });
    assert.ok(g.rxDriver.kick(), 'the driver must kick a stalled device');
    await waitFor(() => g.device.stats.rx.frames === 5);
    assert.is(g.rxDriver.kicks, kicksBefore + 1);
    // With buffers to spare the device does not want kicks.
    g.postRx(8, 2048);
    g.rxDriver.post({ writable: [2048] });
    assert.not.ok(g.rxDriver.kick(), `kick suppressed (${without === 0n ? 'EVENT_IDX' : 'NO_NOTIFY'})`);
  }
});

test.run();
