import { ConfigError, type BackendConfig, type BackendOption } from '@netbe/core';
import { formatFromPath, type CaptureFormat } from '@netbe/pcap';
import type { Pace } from './input-replay';

export const PCAP_OPTIONS: readonly BackendOption[] = [
  { name: 'in', description: 'capture file (pcap or pcapng) whose Ethernet frames are delivered to the guest' },
  { name: 'out', description: 'capture file the frames the guest sends are appended to (created or truncated)' },
  { name: 'format', description: 'out: pcap | pcapng (default from the extension of out, else pcapng)' },
  { name: 'pace', description: 'in: max (default, as fast as the guest posts buffers) | original (the file\'s timestamps)' },
  { name: 'loop', description: 'in: passes over the file (default 1; 0 = forever)' },
  { name: 'flush', description: 'out: flush interval in milliseconds (default 1000): a crash loses at most that much' },
  { name: 'nsec', description: 'out: nanosecond timestamps, on|off (default on for pcapng, off for pcap)' },
];

export interface PcapConfig {
  in?: string;
  out?: string;
  format: CaptureFormat;
  pace: Pace;
  loop: number;
  flushIntervalMs: number;
  nanosecond: boolean;
}

/** Validates a `pcap,…` config: each error names its option. */
export function parsePcapConfig(config: BackendConfig): PcapConfig {
  const input = config.get('in');
  const output = config.get('out');
  if (input === '') throw new ConfigError('in', 'is empty');
  if (output === '') throw new ConfigError('out', 'is empty');
  if (input === undefined && output === undefined) throw new ConfigError('in', 'the pcap backend needs in=FILE, out=FILE or both');
  let format: CaptureFormat = 'pcapng';
  if (config.has('format')) format = config.choice('format', 'pcapng', ['pcap', 'pcapng'] as const);
  else if (output !== undefined) format = formatFromPath(output) ?? 'pcapng';
  const parsed: PcapConfig = {
    format,
    pace: config.choice('pace', 'max', ['max', 'original'] as const),
    loop: config.int('loop', 1, 0, 2 ** 31 - 1),
    flushIntervalMs: config.int('flush', 1000, 1, 3_600_000),
    nanosecond: config.bool('nsec', format === 'pcapng'),
  };
  if (input !== undefined) parsed.in = input;
  if (output !== undefined) parsed.out = output;
  if (input === undefined) {
    for (const key of ['pace', 'loop']) if (config.has(key)) throw new ConfigError(key, 'applies to in=FILE, which is not given');
  }
  if (output === undefined) {
    for (const key of ['format', 'flush', 'nsec']) if (config.has(key)) throw new ConfigError(key, 'applies to out=FILE, which is not given');
  }
  return parsed;
}
