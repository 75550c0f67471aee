export { VirtioNetDevice } from './device';
export type { VirtioNetDeviceOptions } from './device';
export { NetConfigSpace } from './config-space';
export type { NetConfigState } from './config-space';
export * from './constants';
export { offeredFeatures, guestHeaderLength, featureProblem, closeOffloadDependencies, NET_BASE_FEATURES } from './features';
export { DROP_REASONS, totalDrops } from './stats';
export type { DropReason, DropCounters, QueueStats, NetDeviceStats } from './stats';
export type { NetDeviceSnapshot } from './snapshot';
