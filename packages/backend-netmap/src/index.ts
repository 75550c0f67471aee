import './register';

export { NetmapBackend, NETMAP_FEATURES } from './netmap-backend';
export type { NetmapBackendOptions } from './netmap-backend';
export { netmapBackendFactory, valeBackendFactory, registerNetmapBackends } from './factory';
export { parseNetmapName } from './port-name';
export type { NetmapPortName } from './port-name';
export { PortMemory, ringNext, ringSpace } from './port-memory';
export type { RingView } from './port-memory';
export { RxRing } from './rx-ring';
export { TxRing } from './tx-ring';
export type { NetmapCounters } from './counters';
