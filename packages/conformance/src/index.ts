export { backendConformance, conformanceTests } from './conformance';
export type { Conformance, ConformancePlan, ConformanceTest } from './conformance';
export { peerHarness, drainFrames } from './peer-harness';
export { FrameMaker, KIT_ETHERTYPE, KIT_DST_MAC, KIT_SRC_MAC, KIT_FRAME_MIN, concatBytes, splitAt, describeDifference } from './frames';
export { GROUPS } from './types';
export type { Applies, Supports, Harness, ConformanceOptions, GroupName, GroupStatus } from './types';
