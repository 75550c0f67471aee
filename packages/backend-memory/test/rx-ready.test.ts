import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetBackend } from '@netbe/core';
import { waitFor } from '@netbe/test-utils';
import { createMemoryPair, createMemorySource } from '../src/index';
import { CountingListener, frame, recvOne, turns } from './helpers';

const open: NetBackend[] = [];
test.after.each(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});
function pair() {
  const ends = createMemoryPair();
  open.push(...ends);
  return ends;
}

test('RX starts disabled: frames waiting but no rxReady until rxEnable', async () => {
  const [a, b] = pair();
  const l = new CountingListener();
  b.attach(l);
  a.send([frame(64)], 1);
  await turns(5);
  assert.is(l.calls, 0);
  b.rxEnable();
  assert.is(l.calls, 0, 'never synchronously from rxEnable');
  await waitFor(() => l.calls > 0, 2000, 'rxReady');
});

test('a frame arriving while enabled raises rxReady, asynchronously', async () => {
  const [a, b] = pair();
  const l = new CountingListener();
  l.onReady = () => {
    while (recvOne(b));
  };
  b.attach(l);
  b.rxEnable();
  await turns();
  assert.is(l.calls, 0, 'nothing waiting, no call');
  a.send([frame(64)], 1);
  assert.is(l.calls, 0, 'not from inside the peer send');
  await waitFor(() => l.calls === 1, 2000, 'rxReady');
  await turns(5);
  assert.is(l.calls, 1, 'drained: no more calls');
});

test('no rxReady after rxDisable until rxEnable, even with a call already scheduled', async () => {
  const [a, b] = pair();
  const l = new CountingListener();
  b.attach(l);
  b.rxEnable();
  a.send([frame(64)], 1); // schedules a call
  b.rxDisable();
  a.send([frame(64)], 1);
  await turns(5);
  assert.is(l.calls, 0);
  b.rxEnable();
  await waitFor(() => l.calls > 0, 2000, 'rxReady after re-enable');
});

test('rxDisable inside rxReady stops further calls; frames stay for later', async () => {
  const [a, b] = pair();
  const l = new CountingListener();
  l.onReady = () => {
    recvOne(b);
    b.rxDisable(); // "no room in the guest"
  };
  b.attach(l);
  for (let i = 0; i < 3; i++) a.send([frame(64, i)], 1);
  b.rxEnable();
  await waitFor(() => l.calls === 1, 2000, 'first call');
  await turns(5);
  assert.is(l.calls, 1);
  assert.is(b.peekRecvLen(), 64);
  b.rxEnable();
  await waitFor(() => l.calls === 2, 2000, 'second call');
});

test('level-triggered: a call that leaves frames is followed by another while enabled', async () => {
  const [a, b] = pair();
  const l = new CountingListener();
  l.onReady = () => void recvOne(b); // one frame per call
  b.attach(l);
  for (let i = 0; i < 4; i++) a.send([frame(64, i)], 1);
  b.rxEnable();
  await waitFor(() => b.peekRecvLen() === 0, 2000, 'drained one per call');
  assert.is(l.calls, 4);
  await turns(5);
  assert.is(l.calls, 4);
});

test('recv works while RX is disabled (the gate only gates callbacks)', () => {
  const [a, b] = pair();
  a.send([frame(70)], 1);
  assert.equal(recvOne(b), frame(70));
});

test('no rxReady after close, even with frames and a call scheduled', async () => {
  const [a, b] = pair();
  const l = new CountingListener();
  b.attach(l);
  a.send([frame(64)], 1);
  b.rxEnable();
  await b.close();
  await turns(5);
  assert.is(l.calls, 0);
});

test('attach replaces the listener', async () => {
  const [a, b] = pair();
  const first = new CountingListener();
  const second = new CountingListener();
  second.onReady = () => void recvOne(b);
  b.attach(first);
  b.attach(second);
  b.rxEnable();
  a.send([frame(64)], 1);
  await waitFor(() => second.calls === 1, 2000, 'second listener');
  assert.is(first.calls, 0);
});

test('a source keeps rxReady coming while enabled, and stops on rxDisable', async () => {
  const src = createMemorySource({ size: 60 });
  open.push(src);
  const l = new CountingListener();
  const buf = new Uint8Array(60);
  l.onReady = () => {
    for (let i = 0; i < 8; i++) src.recv([buf], 1);
    if (l.calls === 5) src.rxDisable();
  };
  src.attach(l);
  src.rxEnable();
  await waitFor(() => l.calls === 5, 2000, 'five calls');
  await turns(5);
  assert.is(l.calls, 5);
  assert.is(src.stats.rxFrames, 40);
});

test.run();
