import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackend, VNET_HDR_LEN, type NetBackend } from '@netbe/core';
import { createMemorySink, createMemorySource, SOURCE_ETHERTYPE, SOURCE_MAC } from '../src/index';
import { frame } from './helpers';

const open: NetBackend[] = [];
test.after.each(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});

test('the sink counts what it is sent and never has a frame', () => {
  const sink = createMemorySink();
  open.push(sink);
  for (let i = 0; i < 10; i++) assert.is(sink.send([frame(60), frame(40)], 2), 100);
  assert.equal(sink.stats, { txFrames: 10, txBytes: 1000, txDrops: 0, rxFrames: 0, rxBytes: 0, rxDrops: 0 });
  assert.is(sink.peekRecvLen(), 0);
  assert.is(sink.recv([new Uint8Array(100)], 1), 0);
  assert.is(sink.rxDiscard(), 0);
  assert.is(sink.send([], 0), 0);
  assert.is(sink.stats.txDrops, 1);
});

test('the source generates broadcast frames with a sequence number', () => {
  const src = createMemorySource({ size: 64 });
  open.push(src);
  const buf = new Uint8Array(100);
  for (let seq = 0; seq < 300; seq++) {
    assert.is(src.peekRecvLen(), 64);
    assert.is(src.recv([buf], 1), 64);
    assert.equal(buf.subarray(0, 6), new Uint8Array(6).fill(0xff));
    assert.equal(buf.subarray(6, 12), SOURCE_MAC);
    assert.is((buf[12]! << 8) | buf[13]!, SOURCE_ETHERTYPE);
    assert.is(new DataView(buf.buffer).getUint32(14), seq);
  }
  assert.is(src.generated, 300);
});

test('the source adds a zeroed header of the length setCap chose, split over segments', () => {
  const src = createMemorySource({ size: 60 });
  open.push(src);
  src.setCap(0n, VNET_HDR_LEN);
  assert.is(src.peekRecvLen(), 72);
  const hdr = new Uint8Array(12).fill(0xaa);
  const body = new Uint8Array(60);
  assert.is(src.recv([hdr, body], 2), 72);
  assert.equal(hdr, new Uint8Array(12));
  assert.is(body[0], 0xff);
  assert.is(src.recv([new Uint8Array(71)], 1), -1, 'too small');
  assert.is(src.stats.rxDrops, 1);
});

test('count= runs the source dry; rxDiscard consumes', async () => {
  const src = await createBackend('memory,mode=source,size=100,count=3');
  open.push(src);
  assert.is(src.rxDiscard(), 100);
  assert.is(src.recv([new Uint8Array(100)], 1), 100);
  assert.is(src.recv([new Uint8Array(100)], 1), 100);
  assert.is(src.peekRecvLen(), 0);
  assert.is(src.recv([new Uint8Array(100)], 1), 0);
  assert.is(src.stats.rxFrames, 2);
  assert.is(src.stats.rxDrops, 1);
});

test('sizes below 18 bytes carry what fits of the sequence number', () => {
  const src = createMemorySource({ size: 14, count: 2 });
  open.push(src);
  const buf = new Uint8Array(14);
  assert.is(src.recv([buf], 1), 14);
  assert.is(buf[12], 0x88);
});

test.run();
