import { BackendConfig, ConfigError, NET_OFFLOAD_FEATURES, netFeatureNames } from '@netbe/core';
import * as features from '@netbe/core';

export type MemoryMode = 'loopback' | 'pair' | 'sink' | 'source';
export const MEMORY_MODES: readonly MemoryMode[] = ['loopback', 'pair', 'sink', 'source'];

/** Defaults: what `memory` alone means. */
export const MEMORY_DEFAULTS = {
  queue: 256,
  /** 64 KiB of GSO payload plus an Ethernet header and a VLAN tag. */
  maxFrame: 65536 + 18,
  size: 64,
} as const;

/** How to build a memory backend (the object form of the config string). */
export interface MemoryBackendOptions {
  /** The name reported by `backend.name` (default: `memory,mode=…`). */
  name?: string;
  /** Receive queue length in frames (loopback, pair); a frame sent into a full queue is a txDrop. */
  queue?: number;
  /** Largest Ethernet frame (vnet header excluded) carried; larger ones are txDrops. */
  maxFrame?: number;
  /**
   * Carry the virtio-net header (default true): after `setCap(f, len)` the backend uses `len`.
   * When false the backend always uses 0 and the device strips/prepends headers itself.
   */
  vnetHdr?: boolean;
  /** Offload bits reported by getCap() (default: all offloads with vnetHdr, none without). */
  caps?: bigint;
}

export interface SourceOptions extends MemoryBackendOptions {
  /** Length of each generated Ethernet frame (default 64). */
  size?: number;
  /** Frames to generate before running dry; 0 (default) never runs dry. */
  count?: number;
}

/** Options after defaults and checks. */
export interface ResolvedOptions {
  name: string;
  queue: number;
  maxFrame: number;
  vnetHdr: boolean;
  caps: bigint;
}

/** Checks and fills in defaults; errors name the option. */
export function resolveOptions(mode: MemoryMode, o: MemoryBackendOptions): ResolvedOptions {
  const queue = o.queue ?? MEMORY_DEFAULTS.queue;
  if (!Number.isInteger(queue) || queue < 1 || queue > 65536) throw new ConfigError('queue', `${queue} is outside 1..65536`);
  const maxFrame = o.maxFrame ?? MEMORY_DEFAULTS.maxFrame;
  if (!Number.isInteger(maxFrame) || maxFrame < 14 || maxFrame > 262144) {
    throw new ConfigError('maxframe', `${maxFrame} is outside 14..262144`);
  }
  const vnetHdr = o.vnetHdr ?? true;
  const caps = o.caps ?? (vnetHdr ? NET_OFFLOAD_FEATURES : 0n);
  if ((caps & ~NET_OFFLOAD_FEATURES) !== 0n) {
    throw new ConfigError('caps', `only offload bits may be advertised, not ${netFeatureNames(caps & ~NET_OFFLOAD_FEATURES).join('+') || caps.toString(16)}`);
  }
  if (caps !== 0n && !vnetHdr) throw new ConfigError('caps', 'offloads need the virtio-net header (vnethdr=on)');
  return { name: o.name ?? `memory,mode=${mode}`, queue, maxFrame, vnetHdr, caps };
}

const FEATURE_BY_NAME = new Map<string, bigint>();
for (const [key, value] of Object.entries(features)) {
  if (key.startsWith('VIRTIO_NET_F_') && typeof value === 'bigint') FEATURE_BY_NAME.set(key.slice('VIRTIO_NET_F_'.length), value);
}

/**
 * Parses a `caps=` value: `none`, `all` (every offload bit), a number (`0x4983`), or feature
 * names joined by `+` (`CSUM+GUEST_CSUM+HOST_TSO4`, case-insensitive, `VIRTIO_NET_F_` optional).
 */
export function parseCaps(text: string): bigint {
  const t = text.trim();
  if (t === 'none' || t === '0') return 0n;
  if (t === 'all') return NET_OFFLOAD_FEATURES;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) return BigInt(t);
  let caps = 0n;
  for (const part of t.split('+')) {
    const name = part.trim().toUpperCase().replace(/^VIRTIO_NET_F_/, '');
    const bit = FEATURE_BY_NAME.get(name);
    if (bit === undefined) throw new ConfigError('caps', `"${part}" is not a virtio-net feature name`);
    caps |= bit;
  }
  return caps;
}

/** What a config string asks for. */
export type MemorySpec =
  | { mode: 'loopback' | 'sink'; options: MemoryBackendOptions }
  | { mode: 'pair'; peer: string; options: MemoryBackendOptions }
  | { mode: 'source'; options: SourceOptions };

const MODE_ONLY: Record<string, MemoryMode[]> = {
  peer: ['pair'],
  size: ['source'],
  count: ['source'],
  queue: ['loopback', 'pair'],
};

/** Reads `memory,mode=…,…` (the registry has already rejected unknown options). */
export function parseMemoryConfig(config: BackendConfig): MemorySpec {
  const mode = config.choice<MemoryMode>('mode', 'loopback', MEMORY_MODES);
  for (const [key, modes] of Object.entries(MODE_ONLY)) {
    if (config.has(key) && !modes.includes(mode)) throw new ConfigError(key, `only applies to mode=${modes.join(' or mode=')}`);
  }
  const options: MemoryBackendOptions = {
    name: config.toString(),
    queue: config.int('queue', MEMORY_DEFAULTS.queue, 1, 65536),
    maxFrame: config.int('maxframe', MEMORY_DEFAULTS.maxFrame, 14, 262144),
    vnetHdr: config.bool('vnethdr', true),
  };
  const capsText = config.get('caps');
  if (capsText !== undefined) options.caps = parseCaps(capsText);
  resolveOptions(mode, options); // option errors now, naming the option
  switch (mode) {
    case 'pair':
      return { mode, peer: config.require('peer'), options };
    case 'source': {
      const size = config.int('size', MEMORY_DEFAULTS.size, 14, options.maxFrame!);
      const count = config.int('count', 0, 0, Number.MAX_SAFE_INTEGER);
      return { mode, options: { ...options, size, count } };
    }
    default:
      return { mode, options };
  }
}
