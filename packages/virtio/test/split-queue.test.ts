import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DescriptorChain,
  DeviceStatus,
  SplitQueue,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  featureMask,
  iovCopyFrom,
  iovCopyTo,
} from '@netbe/virtio';
import { MockDriver } from '@netbe/virtio/testing';

const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);

function setup(features = featureMask(VIRTIO_F_VERSION_1) | featureMask(VIRTIO_F_INDIRECT_DESC) | featureMask(VIRTIO_F_EVENT_IDX), queueSize = 16) {
  const driver = new MockDriver({ queueSize, memorySize: 1 << 20 });
  const device = new DeviceStatus({ deviceFeatures: features });
  const queue = new SplitQueue({ maxSize: queueSize });
  const accepted = driver.negotiate(device, features);
  queue.setFeatures(accepted);
  assert.ok(driver.attach(queue));
  driver.driverOk(device);
  return { driver, device, queue, chain: new DescriptorChain(64) };
}

test('pop a direct chain with readable and writable parts, return it, driver reads it', () => {
  const { driver, queue, chain } = setup();
  const head = driver.post({ readable: [bytes(1, 2, 3), bytes(4, 5)], writable: [4, 6] });
  assert.ok(queue.pop(chain));
  assert.is(chain.head, head);
  assert.is(chain.readable, 2);
  assert.is(chain.writable, 2);
  assert.is(chain.readableBytes, 5);
  assert.is(chain.writableBytes, 10);
  const out = new Uint8Array(5);
  assert.is(iovCopyFrom(chain.iov, chain.readable, 0, out), 5);
  assert.equal([...out], [1, 2, 3, 4, 5]);
  const reply = bytes(9, 8, 7, 6, 5, 4, 3);
  assert.is(iovCopyTo(chain.iov.slice(chain.readable), chain.writable, 0, reply), 7);
  queue.addUsed(chain.head, 7);
  assert.not.ok(queue.pop(chain));
  queue.publish();
  assert.ok(queue.needsInterrupt());
  const used = driver.takeUsed();
  assert.ok(used);
  assert.is(used!.id, head);
  assert.equal([...used!.written], [9, 8, 7, 6, 5, 4, 3]);
  assert.ok(driver.guardsIntact());
});

test('indirect chain split over small buffers', () => {
  const { driver, queue, chain } = setup();
  const frame = Uint8Array.from({ length: 100 }, (_, i) => i);
  driver.post({ readable: [frame], writable: [10], segmentSize: 7, indirect: true });
  assert.ok(queue.pop(chain));
  assert.is(chain.readable, 15);
  assert.is(chain.writable, 2);
  const out = new Uint8Array(100);
  assert.is(iovCopyFrom(chain.iov, chain.readable, 0, out), 100);
  assert.equal(out, frame);
});

test.run();
