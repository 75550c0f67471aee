import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ConfigError,
  iovLength,
  NET_OFFLOAD_FEATURES,
  netFeatureNames,
  NetbeError,
  newBackendStats,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_HOST_UFO,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
} from '../src/index';

test('feature bits match virtio 1.2 §5.1.3', () => {
  const bits: Array<[bigint, number]> = [
    [VIRTIO_NET_F_CSUM, 0],
    [VIRTIO_NET_F_GUEST_CSUM, 1],
    [VIRTIO_NET_F_MTU, 3],
    [VIRTIO_NET_F_MAC, 5],
    [VIRTIO_NET_F_GUEST_TSO4, 7],
    [VIRTIO_NET_F_HOST_UFO, 14],
    [VIRTIO_NET_F_MRG_RXBUF, 15],
    [VIRTIO_NET_F_STATUS, 16],
    [VIRTIO_NET_F_CTRL_VQ, 17],
    [VIRTIO_NET_F_MQ, 22],
  ];
  for (const [mask, bit] of bits) assert.is(mask, 1n << BigInt(bit));
});

test('offload features: bits 0, 1 and 7..14 exactly', () => {
  assert.is(NET_OFFLOAD_FEATURES, 0b111_1111_1000_0011n);
  assert.is(NET_OFFLOAD_FEATURES & (VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_MAC), 0n);
});

test('netFeatureNames names the set bits in bit order and ignores unknown ones', () => {
  assert.equal(netFeatureNames(VIRTIO_NET_F_MQ | VIRTIO_NET_F_CSUM | (1n << 40n)), ['CSUM', 'MQ']);
  assert.equal(netFeatureNames(0n), []);
  assert.is(netFeatureNames(NET_OFFLOAD_FEATURES).length, 10);
});

test('NetbeError carries a stable code, errno and cause', () => {
  const cause = new Error('inner');
  const e = new NetbeError('ERR_IO', 'open failed', { cause, errno: 'ENOENT' });
  assert.instance(e, Error);
  assert.is(e.name, 'NetbeError');
  assert.is(e.code, 'ERR_IO');
  assert.is(e.errno, 'ENOENT');
  assert.is(e.cause, cause);
  const plain = new NetbeError('ERR_CLOSED', 'closed');
  assert.is(plain.errno, undefined);
  assert.not.ok('cause' in plain && plain.cause !== undefined);
});

test('ConfigError names the option and the reason', () => {
  const e = new ConfigError('mtu', '10 is outside 46..65535');
  assert.instance(e, NetbeError);
  assert.is(e.name, 'ConfigError');
  assert.is(e.code, 'ERR_CONFIG');
  assert.is(e.option, 'mtu');
  assert.is(e.reason, '10 is outside 46..65535');
  assert.is(e.message, 'mtu: 10 is outside 46..65535');
});

test('iovLength counts only iov[0..iovcnt); newBackendStats gives fresh zeroed counters', () => {
  const iov = [new Uint8Array(3), new Uint8Array(0), new Uint8Array(5), new Uint8Array(100)];
  assert.is(iovLength(iov, 0), 0);
  assert.is(iovLength(iov, 3), 8);
  assert.is(iovLength(iov, 4), 108);
  const a = newBackendStats();
  assert.equal(a, { txFrames: 0, txBytes: 0, txDrops: 0, rxFrames: 0, rxBytes: 0, rxDrops: 0 });
  a.txFrames++;
  assert.is(newBackendStats().txFrames, 0);
});

test.run();
