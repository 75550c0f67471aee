import { test } from 'uvu';
import { readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { hasDevice, isRoot, prerequisite, testWhen } from '@netbe/test-utils';
import { sys } from '../src/index';
import { throwsErrno, throwsType } from './helpers';

const pre = prerequisite([isRoot(), 'needs root (CAP_NET_ADMIN)'], [hasDevice('/dev/net/tun'), 'needs /dev/net/tun']);
const unique = (tag: string): string => `nb${tag}${process.pid % 100000}`;

testWhen(test, pre, 'open a tap with a vnet header, size it, offloads, bring it up', () => {
  const name = unique('a');
  const { fd, name: got } = sys.tapOpen({ name, vnetHdr: true });
  try {
    assert.is(got, name);
    const iff = sys.tapGetIff(fd);
    assert.is(iff.name, name);
    assert.ok(iff.flags & sys.IFF_TAP);
    assert.ok(iff.flags & sys.IFF_VNET_HDR);
    assert.ok(sys.tapGetFeatures(fd) & sys.IFF_MULTI_QUEUE);
    assert.is(sys.tapGetVnetHdrSize(fd), 10);
    sys.tapSetVnetHdrSize(fd, 12);
    assert.is(sys.tapGetVnetHdrSize(fd), 12);
    throwsErrno(() => sys.tapSetVnetHdrSize(fd, 4), 'EINVAL');
    sys.tapSetOffload(fd, sys.TUN_F_CSUM | sys.TUN_F_TSO4 | sys.TUN_F_TSO6 | sys.TUN_F_TSO_ECN);
    sys.tapSetOffload(fd, 0);
    throwsErrno(() => sys.tapSetOffload(fd, 0x10000), 'EINVAL');
    assert.is(sys.linkGetFlags(name) & sys.IFF_UP, 0);
    sys.linkSetUp(name);
    assert.ok(sys.linkGetFlags(name) & sys.IFF_UP);
    sys.linkSetMtu(name, 9000);
    assert.is(sys.linkGetMtu(name), 9000);
    assert.ok(sys.linkIndex(name) > 0);
    assert.is(sys.readv(fd, [new Uint8Array(2048)]), -1); // nothing yet: would block, not an error
  } finally {
    sys.close(fd);
  }
  assert.is(sys.linkIndex(name), 0); // a non-persistent tap goes away with its last fd
});

testWhen(test, pre, 'multi-queue: two fds on one interface; flags must match', () => {
  const name = unique('m');
  const q0 = sys.tapOpen({ name, multiQueue: true });
  const q1 = sys.tapOpen({ name, multiQueue: true });
  try {
    throwsErrno(() => sys.tapOpen({ name }), 'EINVAL');
  } finally {
    sys.close(q0.fd);
    sys.close(q1.fd);
  }
});

testWhen(test, pre, 'the kernel picks a name from a pattern; a held name is busy', () => {
  const a = sys.tapOpen({ name: 'nbk%d' });
  try {
    assert.match(a.name, /^nbk\d+$/);
    throwsErrno(() => sys.tapOpen({ name: a.name }), 'EBUSY');
  } finally {
    sys.close(a.fd);
  }
});

test('a missing device gives ENOENT; bad names and options give TypeError', () => {
  throwsErrno(() => sys.tapOpen({ name: 'x', device: '/nonexistent/tun' }), 'ENOENT');
  throwsType(() => sys.tapOpen({ name: 'a-name-of-16-byt' }), /at most 15/);
  throwsType(() => sys.tapOpen({ name: 7 as unknown as string }), /name/);
  throwsType(() => sys.tapOpen({ vnetHdr: 'yes' as unknown as boolean }), /vnetHdr/);
  throwsType(() => sys.tapOpen('tap0' as never), /options/);
  throwsType(() => sys.linkSetUp(''), /empty/);
  throwsType(() => sys.linkSetUp('x'.repeat(16)), /at most 15/);
  throwsErrno(() => sys.linkGetFlags('nbnosuchif0'), 'ENODEV');
  assert.is(sys.linkIndex('nbnosuchif0'), 0);
});

testWhen(test, pre, 'a frame written to the tap fd is received by the interface (rx_packets)', () => {
  const name = unique('t');
  const { fd } = sys.tapOpen({ name });
  try {
    sys.linkSetUp(name);
    const frame = new Uint8Array(60);
    frame.fill(0xff, 0, 6); // broadcast
    frame.set([2, 0, 0, 0, 0, 1], 6);
    frame.set([0x88, 0xb5], 12); // local experimental ethertype
    const rxPackets = (): number => Number(readFileSync(`/sys/class/net/${name}/statistics/rx_packets`, 'utf8'));
    const before = rxPackets();
    assert.is(sys.writev(fd, [frame.subarray(0, 14), frame.subarray(14)]), 60);
    assert.is(rxPackets(), before + 1);
  } finally {
    sys.close(fd);
  }
});

testWhen(test, pre, 'a packet socket on the tap sends frames the tap fd reads, and reads frames written to the fd', () => {
  const name = unique('p');
  const { fd } = sys.tapOpen({ name });
  let pkt = -1;
  try {
    sys.linkSetUp(name);
    pkt = sys.packetOpen(name);
    while (sys.read(pkt, new Uint8Array(2048)) > 0); // link-up chatter
    const frame = new Uint8Array(100);
    frame.fill(0xff, 0, 6);
    frame.set([2, 0, 0, 0, 0, 2], 6);
    frame.set([0x88, 0xb5], 12);
    frame[50] = 0x5a;
    assert.is(sys.write(pkt, frame), 100);
    const got = new Uint8Array(2048);
    let n = -1;
    // The kernel queues it at once; skip its own link-up traffic (IPv6 MLD, router solicitation).
    for (let i = 0; i < 100; i++) {
      n = sys.read(fd, got);
      if (n === 100 && got[12] === 0x88 && got[13] === 0xb5) break;
    }
    assert.is(n, 100);
    assert.is(got[50], 0x5a);
    frame[50] = 0xa5;
    assert.is(sys.write(fd, frame), 100);
    let m = -1;
    for (let i = 0; i < 100; i++) {
      m = sys.read(pkt, got);
      if (m === 100 && got[50] === 0xa5) break;
    }
    assert.is(got[50], 0xa5);
    throwsErrno(() => sys.packetOpen('nbnosuchif0'), 'ENODEV');
  } finally {
    if (pkt >= 0) sys.close(pkt);
    sys.close(fd);
  }
});

test.run();
