// @timeout 120
import { acceptanceSuite } from './helpers/acceptance';
import { BackendGuest } from './helpers/backend-guest';

// The guest drives the backend through the NetBackend contract (send / recv on rxReady).
acceptanceSuite('slirp via the NetBackend contract', (backend) => new BackendGuest(backend));
