import './register';

export { MemoryBackend } from './memory-backend';
export { QueueBackend } from './queue-backend';
export { SinkBackend } from './sink-backend';
export { SourceBackend, SOURCE_ETHERTYPE, SOURCE_MAC } from './source-backend';
export { createMemoryPair, createMemoryLoopback, createMemorySink, createMemorySource, createMemoryBackend } from './create';
export { PairDirectory, defaultPairDirectory } from './pair-directory';
export { memoryBackendFactory, registerMemoryBackend } from './factory';
export { parseCaps, parseMemoryConfig, MEMORY_DEFAULTS, MEMORY_MODES } from './options';
export type { MemoryMode, MemoryBackendOptions, SourceOptions, MemorySpec } from './options';
export { FrameRing } from './frame-ring';
