import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  NET_OFFLOAD_FEATURES,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
} from '@netbe/core';
import { F_VERSION_1, NET_BASE_FEATURES, featureProblem, guestHeaderLength, offeredFeatures } from '../src/features';
import { NetConfigSpace } from '../src/config-space';

test('offered features: base set, MTU only when configured, only the offload bits the backend reports', () => {
  assert.is(offeredFeatures(0n, false), NET_BASE_FEATURES);
  assert.is(offeredFeatures(0n, true), NET_BASE_FEATURES | VIRTIO_NET_F_MTU);
  assert.is(offeredFeatures(NET_OFFLOAD_FEATURES, false), NET_BASE_FEATURES | NET_OFFLOAD_FEATURES);
  // A backend cannot make the device offer non-offload bits (control queue, multiqueue).
  assert.is(offeredFeatures(VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_MQ, false), NET_BASE_FEATURES);
});

test('offered features: an offload whose prerequisite the backend lacks is not offered (§5.1.3.1)', () => {
  assert.is(offeredFeatures(VIRTIO_NET_F_GUEST_TSO4, false), NET_BASE_FEATURES, 'GUEST_TSO4 needs GUEST_CSUM');
  assert.is(offeredFeatures(VIRTIO_NET_F_HOST_TSO4, false), NET_BASE_FEATURES, 'HOST_TSO4 needs CSUM');
  assert.is(offeredFeatures(VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_GUEST_CSUM, false), NET_BASE_FEATURES | VIRTIO_NET_F_GUEST_CSUM, 'ECN needs a TSO bit');
  const full = VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_CSUM;
  assert.is(offeredFeatures(full, false), NET_BASE_FEATURES | full);
});

test('driver features: not offered, or an offload without its prerequisite, are refused', () => {
  const offered = offeredFeatures(NET_OFFLOAD_FEATURES, false);
  assert.is(featureProblem(offered, offered), null);
  assert.match(featureProblem(offered, offered | VIRTIO_NET_F_MTU) ?? '', /did not offer/);
  assert.match(featureProblem(offered, VIRTIO_NET_F_GUEST_TSO4) ?? '', /prerequisites/);
});

test('guest header length: 12 with VERSION_1 or MRG_RXBUF, else 10', () => {
  assert.is(guestHeaderLength(0n), 10);
  assert.is(guestHeaderLength(VIRTIO_NET_F_MRG_RXBUF), 12);
  assert.is(guestHeaderLength(F_VERSION_1), 12);
});

test('config space: little-endian fields, reads past the end are 0, MAC writes only while writable', () => {
  const c = new NetConfigSpace(Uint8Array.of(2, 1, 2, 3, 4, 5), 9000);
  assert.equal(Array.from(c.bytes), [2, 1, 2, 3, 4, 5, 1, 0, 1, 0, 0x28, 0x23]);
  assert.is(c.readValue(10, 2), 9000);
  assert.is(c.readValue(11, 4), 0x23);
  assert.is(c.write(4, Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd)), 2, 'only the two MAC bytes apply');
  assert.equal(Array.from(c.mac), [2, 1, 2, 3, 0xaa, 0xbb]);
  assert.is(c.status, 1);
  c.macWritable = false;
  assert.is(c.writeValue(0, 4, 0), 0);
  assert.is(c.mac[0], 2);
  const g = c.generation;
  assert.ok(c.setLinkUp(false));
  assert.not.ok(c.setLinkUp(false));
  assert.is(c.generation, g + 1);
  const copy = new NetConfigSpace(Uint8Array.of(2, 0, 0, 0, 0, 9));
  copy.restore(JSON.parse(JSON.stringify(c.toJSON())));
  assert.equal(Array.from(copy.bytes), Array.from(c.bytes));
  assert.throws(() => copy.restore({ ...c.toJSON(), mtu: 3 }), /mtu/);
  assert.throws(() => new NetConfigSpace(Uint8Array.of(1, 2, 3)), /6 bytes/);
});

test.run();
