import type { BackendConfig } from '@netbe/core';
import { defaultPairDirectory } from './pair-directory';
import { QueueBackend } from './queue-backend';
import { SinkBackend } from './sink-backend';
import { SourceBackend } from './source-backend';
import { parseMemoryConfig, resolveOptions, type MemoryBackendOptions, type SourceOptions } from './options';
import type { MemoryBackend } from './memory-backend';
import { ConfigError } from '@netbe/core';

/** Two connected ends: what one sends the other receives. */
export function createMemoryPair(a: MemoryBackendOptions = {}, b: MemoryBackendOptions = a): [QueueBackend, QueueBackend] {
  const left = new QueueBackend('pair', resolveOptions('pair', { name: 'memory,mode=pair,end=a', ...a }));
  const right = new QueueBackend('pair', resolveOptions('pair', { name: 'memory,mode=pair,end=b', ...b }));
  QueueBackend.connect(left, right);
  return [left, right];
}

/** A backend that receives what it sends. */
export function createMemoryLoopback(options: MemoryBackendOptions = {}): QueueBackend {
  return new QueueBackend('loopback', resolveOptions('loopback', options));
}

/** A backend that counts and drops what it is sent and never receives. */
export function createMemorySink(options: MemoryBackendOptions = {}): SinkBackend {
  return new SinkBackend(resolveOptions('sink', options));
}

/** A backend that generates frames as fast as they are received (see {@link SourceBackend}). */
export function createMemorySource(options: SourceOptions = {}): SourceBackend {
  const resolved = resolveOptions('source', options);
  const size = options.size ?? 64;
  if (!Number.isInteger(size) || size < 14 || size > resolved.maxFrame) throw new ConfigError('size', `${size} is outside 14..${resolved.maxFrame}`);
  const count = options.count ?? 0;
  if (!Number.isSafeInteger(count) || count < 0) throw new ConfigError('count', `${count} is not a frame count`);
  return new SourceBackend(resolved, size, count);
}

/** Builds the backend a `memory,…` config string describes. */
export function createMemoryBackend(config: BackendConfig): MemoryBackend {
  const spec = parseMemoryConfig(config);
  switch (spec.mode) {
    case 'loopback':
      return createMemoryLoopback(spec.options);
    case 'sink':
      return createMemorySink(spec.options);
    case 'source':
      return createMemorySource(spec.options);
    case 'pair':
      return defaultPairDirectory.join(spec.peer, resolveOptions('pair', spec.options));
  }
}
