export * from './abi';
export { nativeNetmap } from './binding';
export type { NativeNetmap, NativePortInfo } from './binding';
export { NetmapUnavailableError, errnoOf } from './errors';
export { MappingCache } from './mappings';
export { kernelNetmap, netmapSystem, withControlFd } from './port';
export type { NetmapPort, NetmapPortInfo, NetmapRegistration, NetmapSystem } from './port';
export { valeCreatePort, valeDeletePort, valeAttach, valeDetach, valeList, portInfo } from './vale';
export type { ValePortOptions } from './vale';
