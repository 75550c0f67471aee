export { FakeNetmap, FakeNic, FakeSwitch, FakePort } from './fake-netmap';
export type { FakeNetmapOptions, PeerBehaviour, WireFrame } from './fake-netmap';
export { FakeKring, FakeRegion } from './fake-region';
