export { MockDriver, HOSTILE_CHAINS } from './mock-driver';
export type { MockDriverOptions, ChainSpec, HostileChain, RawDescriptor, UsedElement } from './mock-driver';
export { guardedMemory } from './guarded-memory';
export type { GuardedMemory, GuardedRegionSpec } from './guarded-memory';
export { RangeAllocator } from './range-allocator';
