import { defaultRegistry, type BackendFactory, type BackendRegistry } from '@netbe/core';
import { createMemoryBackend } from './create';

/** The `memory` entry for a backend registry. */
export const memoryBackendFactory: BackendFactory = {
  prefix: 'memory',
  description: 'in-memory reference backend: connected pairs, loopback, a counting sink, a frame source',
  options: [
    { name: 'mode', description: 'loopback (default) | pair | sink | source' },
    { name: 'peer', description: 'mode=pair: the pair name; the second end opened with it connects to the first' },
    { name: 'queue', description: 'loopback/pair: receive queue length in frames (default 256); overflow is a txDrop' },
    { name: 'maxframe', description: 'largest Ethernet frame carried, header excluded (default 65554)' },
    { name: 'vnethdr', description: 'on (default): carry the virtio-net header setCap asks for; off: always 0' },
    { name: 'caps', description: 'offloads reported by getCap: all (default) | none | 0xHEX | CSUM+HOST_TSO4+…' },
    { name: 'size', description: 'mode=source: generated frame length (default 64)' },
    { name: 'count', description: 'mode=source: frames before running dry (default 0 = never)' },
  ],
  examples: ['memory', 'memory,mode=pair,peer=lan0', 'memory,mode=sink', 'memory,mode=source,size=64', 'memory,mode=loopback,vnethdr=off'],
  create: createMemoryBackend,
};

/** Registers the `memory` prefix (once; a second call, or a second copy of this module, is a no-op). */
export function registerMemoryBackend(registry: BackendRegistry = defaultRegistry): void {
  registry.registerOnce(memoryBackendFactory);
}
