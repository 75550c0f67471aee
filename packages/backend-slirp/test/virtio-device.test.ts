// @timeout 120
import { acceptanceSuite } from './helpers/acceptance';
import { DeviceGuest } from './helpers/device-guest';

// The guest is a MockDriver behind a real @netbe/virtio-net device whose backend is slirp.
acceptanceSuite('slirp behind the virtio-net device (MockDriver guest)', (backend) => new DeviceGuest(backend));
