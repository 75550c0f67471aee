/** Shared set-up for the queue tests: a MockDriver, a DeviceStatus and one SplitQueue. */
import { DescriptorChain, DeviceStatus, SplitQueue, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, featureMask, type MalformedChainPolicy, type VirtioError } from '@netbe/virtio';
import { MockDriver, type MockDriverOptions } from '@netbe/virtio/testing';

export const F_VERSION_1 = featureMask(VIRTIO_F_VERSION_1);
export const F_INDIRECT = featureMask(VIRTIO_F_INDIRECT_DESC);
export const F_EVENT_IDX = featureMask(VIRTIO_F_EVENT_IDX);

export interface Rig {
  driver: MockDriver;
  device: DeviceStatus;
  queue: SplitQueue;
  chain: DescriptorChain;
  errors: VirtioError[];
  configInterrupts: number;
}

export function rig(options: { features?: bigint; queueSize?: number; maxSegments?: number; policy?: MalformedChainPolicy; driver?: MockDriverOptions; legacy?: boolean } = {}): Rig {
  const queueSize = options.queueSize ?? 16;
  const features = options.features ?? F_VERSION_1 | F_INDIRECT | F_EVENT_IDX;
  const driver = new MockDriver({ queueSize, memorySize: 1 << 20, ...options.driver });
  const r: Rig = { driver, device: undefined as unknown as DeviceStatus, queue: undefined as unknown as SplitQueue, chain: new DescriptorChain(options.maxSegments ?? 64), errors: [], configInterrupts: 0 };
  r.device = new DeviceStatus({
    deviceFeatures: features,
    legacy: options.legacy ?? false,
    onReset: () => r.queue.reset(),
    onNeedsReset: () => r.configInterrupts++,
  });
  r.queue = new SplitQueue({
    maxSize: queueSize,
    malformedChains: options.policy ?? 'break',
    onError: (error) => {
      r.errors.push(error);
      r.device.needsReset(error);
    },
  });
  const accepted = driver.negotiate(r.device, features);
  r.queue.setFeatures(accepted);
  if (!driver.attach(r.queue)) throw new Error(`attach failed: ${r.queue.error?.message}`);
  driver.driverOk(r.device);
  return r;
}

export const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);
export const pattern = (n: number, seed = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
