/**
 * Every front-end message the back-end implements, driven by the test double over a real unix
 * socket with real fds, and checked by its effect.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sys } from '@netbe/sys';
import { waitFor } from '@netbe/test-utils';
import { collect, countingPlatform, frame, frontend, makeRig, withHeader, type Rig } from './helpers';
import {
  FLAG_NEED_REPLY,
  FLAG_VERSION,
  ProtocolFeature,
  Req,
  VHOST_USER_F_PROTOCOL_FEATURES,
  decodeConfig,
  encodeConfig,
  encodeMemRegion,
  encodeU64,
  encodeVringFd,
  encodeVringState,
  protocolMask,
  type MemoryRegionDesc,
} from '../src/index';

let rig: Rig;
let platform: ReturnType<typeof countingPlatform>;
test.before.each(async () => {
  platform = countingPlatform();
  rig = await makeRig({ mac: '52:54:00:ab:cd:ef', platform });
});
test.after.each(async () => {
  await rig.close();
});

test('GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM', async () => {
  const fe = frontend(rig);
  try {
    const f = await fe.getU64(Req.GET_FEATURES);
    assert.ok(f & (1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES)), 'PROTOCOL_FEATURES offered');
    for (const bit of [15, 28, 29, 32]) assert.ok(f & (1n << BigInt(bit)), `feature bit ${bit} offered`);
    const p = await fe.getU64(Req.GET_PROTOCOL_FEATURES);
    for (const bit of [ProtocolFeature.MQ, ProtocolFeature.REPLY_ACK, ProtocolFeature.CONFIG, ProtocolFeature.RARP]) assert.ok(p & protocolMask(bit), `protocol bit ${bit}`);
    assert.is(await fe.getU64(Req.GET_QUEUE_NUM), 2n);
  } finally {
    fe.close();
  }
});

test('REPLY_ACK: NEED_REPLY gets a zero u64 for messages without a reply of their own', async () => {
  const fe = frontend(rig);
  try {
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolMask(ProtocolFeature.REPLY_ACK)));
    assert.is(await fe.requestAck(Req.SET_OWNER), 0n);
    assert.is(await fe.requestAck(Req.SET_FEATURES, encodeU64(1n << 32n)), 0n);
    assert.is(rig.net.negotiated, 1n << 32n);
  } finally {
    fe.close();
  }
});

test('SET_PROTOCOL_FEATURES then GET_CONFIG / SET_CONFIG reach the device config space', async () => {
  const fe = frontend(rig);
  try {
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolMask(ProtocolFeature.CONFIG)));
    const m = await fe.request(Req.GET_CONFIG, encodeConfig({ offset: 0, bytes: new Uint8Array(6) }));
    assert.equal(Array.from(decodeConfig(m).bytes), [0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
    // Before VERSION_1 is negotiated the MAC is driver-writable (legacy, virtio 1.2 §5.1.4.3).
    fe.send(Req.SET_CONFIG, encodeConfig({ offset: 0, bytes: Uint8Array.of(0x52, 0x54, 0, 1, 2, 3) }));
    const back = await fe.request(Req.GET_CONFIG, encodeConfig({ offset: 0, bytes: new Uint8Array(6) }));
    assert.equal(Array.from(decodeConfig(back).bytes), [0x52, 0x54, 0, 1, 2, 3]);
  } finally {
    fe.close();
  }
});

test('SEND_RARP puts a RARP announcement for the MAC on the wire; NET_SET_MTU is recorded', async () => {
  const got = collect(rig.wire);
  const fe = frontend(rig);
  try {
    await fe.setUp();
    const mac = Uint8Array.of(0x52, 0x54, 0, 0x11, 0x22, 0x33);
    const payload = new Uint8Array(8);
    payload.set(mac);
    assert.is(await fe.requestAck(Req.SEND_RARP, payload), 0n);
    await waitFor(() => got.length === 1, 5000, 'the RARP frame');
    const f = got[0]!;
    assert.equal(Array.from(f.subarray(0, 6)), [255, 255, 255, 255, 255, 255]);
    assert.equal(f.subarray(6, 12), mac);
    assert.equal([f[12], f[13]], [0x80, 0x35]);
    assert.is(f[21], 3, 'reverse request');
    assert.is(await fe.requestAck(Req.NET_SET_MTU, encodeU64(9000)), 0n);
    assert.is(rig.device.hostMtu, 9000);
  } finally {
    fe.close();
  }
});

test('SET_MEM_TABLE again while running: rings rebound, traffic continues, old mappings released', async () => {
  const got = collect(rig.wire);
  const fe = frontend(rig);
  try {
    await fe.setUp();
    assert.is(platform.maps, 2, 'two regions mapped');
    fe.drivers[1]!.postAndKick({ readable: [withHeader(frame(80, 1))] });
    await waitFor(() => got.length === 1, 5000, 'frame 1');
    fe.sendMemTable();
    fe.drivers[1]!.postAndKick({ readable: [withHeader(frame(80, 2))] });
    await waitFor(() => got.length === 2, 5000, 'frame 2 after the new table');
    assert.is(platform.maps, 4);
    assert.is(platform.unmaps, 2, 'the first table was released');
    fe.close();
    await waitFor(() => platform.unmaps === 4, 5000, 'the second table released on disconnect');
  } finally {
    fe.close();
  }
});

test('SET_VRING_ENABLE 0 holds TX; 1 sends what waited', async () => {
  const got = collect(rig.wire);
  const fe = frontend(rig);
  try {
    await fe.setUp();
    assert.is(await fe.requestAck(Req.SET_VRING_ENABLE, encodeVringState({ index: 1, num: 0 })), 0n);
    fe.drivers[1]!.postAndKick({ readable: [withHeader(frame(80, 1))] });
    await new Promise((r) => setTimeout(r, 50));
    assert.is(got.length, 0);
    fe.send(Req.SET_VRING_ENABLE, encodeVringState({ index: 1, num: 1 }));
    await waitFor(() => got.length === 1, 5000, 'the held frame');
  } finally {
    fe.close();
  }
});

test('SET_VRING_ERR: a ring the guest breaks is reported on the error eventfd', async () => {
  const fe = frontend(rig);
  const err = sys.eventfdCreate(0);
  try {
    await fe.setUp();
    fe.send(Req.SET_VRING_ERR, encodeVringFd(1, false), { fds: [err] });
    const tx = fe.drivers[1]!;
    tx.setAvailIdx(1000); // more than the queue size ahead: a ring-level error (virtio 1.2 §2.7.13.3)
    tx.kick(true);
    await waitFor(() => sys.eventfdRead(err) > 0, 5000, 'the error eventfd');
    assert.ok(rig.logs.some((l) => /ring 1/.test(l)), rig.logs.join('\n'));
  } finally {
    sys.close(err);
    fe.close();
  }
});

test('RESET_OWNER and RESET_DEVICE stop the rings and reset the device; the connection stays', async () => {
  const fe = frontend(rig);
  try {
    await fe.setUp();
    assert.ok(rig.net.isStarted);
    assert.is(await fe.requestAck(Req.RESET_OWNER), 0n);
    assert.not.ok(rig.net.isStarted);
    assert.equal(rig.server.session!.runningRings(), []);
    await fe.setUp();
    assert.equal(rig.server.session!.runningRings(), [0, 1]);
    assert.is(await fe.requestAck(Req.RESET_DEVICE), 0n);
    assert.not.ok(rig.net.isStarted);
    assert.ok(rig.server.connected);
  } finally {
    fe.close();
  }
});

test('a ring restarted with SET_VRING_BASE continues from the used index in guest memory', async () => {
  const got = collect(rig.wire);
  const fe = frontend(rig);
  try {
    await fe.setUp();
    const tx = fe.drivers[1]!;
    for (let i = 0; i < 5; i++) tx.postAndKick({ readable: [withHeader(frame(70, i))] });
    await waitFor(() => got.length === 5, 5000, 'five frames');
    const base = await fe.getVringBase(1);
    assert.is(base, 5);
    // The front-end reconnects (a new connection, same guest memory, same rings).
    fe.reconnect();
    await waitFor(() => rig.server.connectionsAccepted === 2 && rig.server.connected, 5000, 'the reconnection');
    await fe.setUp({ base });
    // The guest went on: post one more; the used index continues from 5, not from 0.
    tx.postAndKick({ readable: [withHeader(frame(70, 99))] });
    await waitFor(() => got.length === 6, 5000, 'the frame after reconnecting');
    assert.is(new DataView(got[5]!.buffer).getUint32(got[5]!.length - 70 + 14), 99);
    await waitFor(() => tx.pendingUsed() === 6, 5000, 'six used entries');
  } finally {
    fe.close();
  }
});

test('a new SET_VRING_KICK on a running ring keeps its position (no chain is sent twice)', async () => {
  const got = collect(rig.wire);
  const fe = frontend(rig);
  try {
    await fe.setUp();
    const tx = fe.drivers[1]!;
    for (let i = 0; i < 3; i++) tx.postAndKick({ readable: [withHeader(frame(70, i))] });
    await waitFor(() => got.length === 3, 5000, 'three frames');
    const kick = sys.eventfdCreate(0);
    fe.send(Req.SET_VRING_KICK, encodeVringFd(1, false), { fds: [kick] });
    await fe.getU64(Req.GET_QUEUE_NUM);
    sys.eventfdWrite(kick, 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.is(got.length, 3, 'nothing re-sent');
    assert.is(await fe.getVringBase(1), 3);
    sys.close(kick);
  } finally {
    fe.close();
  }
});

test('a memory table with several regions from several fds, ring in the second region', async () => {
  const fe = frontend(rig, { rings: 2 });
  try {
    // Region table in reverse order: nothing assumes the rings are in region 0.
    const reversed: MemoryRegionDesc[] = [fe.regions[1]!, fe.regions[0]!];
    await fe.setUp();
    fe.sendMemTable(reversed);
    const got = collect(rig.wire);
    fe.drivers[1]!.postAndKick({ readable: [withHeader(frame(90, 5))] });
    await waitFor(() => got.length === 1, 5000, 'a frame with the reordered table');
  } finally {
    fe.close();
  }
});

test('CONFIGURE_MEM_SLOTS: GET_MAX_MEM_SLOTS, ADD_MEM_REG one by one, REM_MEM_REG releases just that mapping', async () => {
  const got = collect(rig.wire);
  const fe = frontend(rig);
  const extra = sys.memfdCreate('netbe-test-extra');
  try {
    await fe.setUp(); // like QEMU: regions added one by one since the feature was negotiated
    assert.ok(fe.protocolFeatures & protocolMask(ProtocolFeature.CONFIGURE_MEM_SLOTS));
    assert.is(await fe.getU64(Req.GET_MAX_MEM_SLOTS), 32n);
    assert.is(platform.maps, 2);
    fe.drivers[1]!.postAndKick({ readable: [withHeader(frame(80, 1))] });
    await waitFor(() => got.length === 1, 5000, 'a frame with added regions');
    // A third region (hotplugged memory) from another fd, then removed again.
    sys.ftruncate(extra, 1 << 20);
    const third: MemoryRegionDesc = { guestPhysAddr: 0x3_0000_0000, size: 1 << 20, userAddr: 0x7f40_0000_0000, mmapOffset: 0 };
    assert.is(await fe.requestAck(Req.ADD_MEM_REG, encodeMemRegion(third), [extra]), 0n);
    assert.is(platform.maps, 3);
    assert.is(rig.net.memory!.regions.length, 3);
    assert.is(await fe.requestAck(Req.REM_MEM_REG, encodeMemRegion(third)), 0n);
    assert.is(platform.unmaps, 1, 'only the removed region was unmapped');
    assert.is(rig.net.memory!.regions.length, 2);
    fe.drivers[1]!.postAndKick({ readable: [withHeader(frame(80, 2))] });
    await waitFor(() => got.length === 2, 5000, 'a frame after the removal');
  } finally {
    sys.close(extra);
    fe.close();
  }
});

test('setUp with SET_MEM_TABLE instead of slots, as a front-end without CONFIGURE_MEM_SLOTS', async () => {
  const got = collect(rig.wire);
  const fe = frontend(rig);
  try {
    await fe.setUp({ protocolFeatures: ~protocolMask(ProtocolFeature.CONFIGURE_MEM_SLOTS) });
    fe.drivers[1]!.postAndKick({ readable: [withHeader(frame(80, 3))] });
    await waitFor(() => got.length === 1, 5000, 'a frame');
    assert.is(platform.maps, 2);
  } finally {
    fe.close();
  }
});

test('flags: a request without NEED_REPLY and REPLY_ACK negotiated gets no reply', async () => {
  const fe = frontend(rig);
  try {
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolMask(ProtocolFeature.REPLY_ACK)));
    fe.send(Req.SET_OWNER, undefined, { flags: FLAG_VERSION });
    assert.is(await fe.getU64(Req.GET_QUEUE_NUM), 2n);
    assert.is(fe.unexpected.length, 0);
    assert.is(await fe.requestAck(Req.SET_OWNER), 0n);
    void FLAG_NEED_REPLY;
  } finally {
    fe.close();
  }
});

test.run();
