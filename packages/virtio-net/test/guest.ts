export * from '../src/testing/index'; // kept for importers not yet on `@netbe/virtio-net/testing`
