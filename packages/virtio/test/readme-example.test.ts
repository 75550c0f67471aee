/** The README's two examples, run as written (with the names they assume filled in). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DescriptorChain, DeviceStatus, SplitQueue, iovCopyFrom } from '@netbe/virtio';
import { MockDriver } from '@netbe/virtio/testing';
import { F_EVENT_IDX, F_INDIRECT, F_VERSION_1, pattern } from './harness';

test('README example: a device drains a queue the MockDriver filled', () => {
  const deviceFeatures = F_VERSION_1 | F_INDIRECT | F_EVENT_IDX;
  const wanted = deviceFeatures;
  const frame = new Uint8Array(2048);
  let interrupts = 0;
  const raiseInterrupt = (): void => {
    interrupts++;
  };
  const device = {
    processTx(): void {
      while (queue.pop(chain)) {
        const n = iovCopyFrom(chain.iov, chain.readable, 0, frame);
        assert.is(n, 1000);
        queue.addUsed(chain.head, 0);
      }
      queue.publish();
      if (queue.needsInterrupt()) raiseInterrupt();
    },
  };

  const queue = new SplitQueue({ maxSize: 256, onError: (e) => status.needsReset(e) });
  const status = new DeviceStatus({ deviceFeatures, onFeatures: (f) => queue.setFeatures(f) });
  const chain = new DescriptorChain(256);

  const driver = new MockDriver({ queueSize: 256 });
  driver.negotiate(status, wanted);
  assert.ok(driver.attach(queue)); // queue.activate(guestMemory) inside
  driver.driverOk(status);
  driver.onKick = () => device.processTx();
  driver.postAndKick({ readable: [pattern(12), pattern(988)], writable: [64], indirect: true, segmentSize: 512 });
  const used = driver.takeUsed();
  assert.ok(used?.known);
  assert.is(interrupts, 1);
  assert.ok(status.live);
});

test.run();
