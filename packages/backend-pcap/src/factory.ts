import { BackendConfig, ConfigError, defaultRegistry, type BackendFactory, type BackendRegistry } from '@netbe/core';
import { CaptureReader, PcapFormatError } from '@netbe/pcap';
import { openFileSink, openFileSource } from '@netbe/pcap/node';
import type { Clock } from './clock';
import { PCAP_OPTIONS, parsePcapConfig } from './options';
import { PcapBackend, type PcapBackendOptions } from './pcap-backend';

export interface OpenPcapOptions {
  clock?: Clock;
  onInputEnd?: PcapBackendOptions['onInputEnd'];
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Opens a `pcap,in=FILE,out=FILE,…` backend on files. The input's header is read before this
 * resolves: a missing or damaged file is a ConfigError naming `in` (and the byte offset).
 */
export async function createPcapBackend(spec: string | BackendConfig | Record<string, unknown>, options: OpenPcapOptions = {}): Promise<PcapBackend> {
  const config = BackendConfig.from(spec);
  const parsed = parsePcapConfig(config);
  let first: CaptureReader | undefined;
  if (parsed.in !== undefined) {
    const path = parsed.in;
    try {
      first = new CaptureReader(await openFileSource(path));
    } catch (e) {
      throw new ConfigError('in', `cannot open "${path}": ${describe(e)}`);
    }
    try {
      await first.readHeader();
    } catch (e) {
      await first.close();
      if (e instanceof PcapFormatError) throw Object.assign(new ConfigError('in', `"${path}": ${e.message}`), { cause: e });
      throw new ConfigError('in', `cannot read "${path}": ${describe(e)}`);
    }
  }
  let sink;
  if (parsed.out !== undefined) {
    try {
      sink = await openFileSink(parsed.out);
    } catch (e) {
      await first?.close();
      throw new ConfigError('out', `cannot create "${parsed.out}": ${describe(e)}`);
    }
  }
  const backendOptions: PcapBackendOptions = { name: config.toString() };
  if (options.clock) backendOptions.clock = options.clock;
  if (options.onInputEnd) backendOptions.onInputEnd = options.onInputEnd;
  if (parsed.in !== undefined) {
    const path = parsed.in;
    backendOptions.input = { open: () => openFileSource(path), first, pace: parsed.pace, loop: parsed.loop };
  }
  if (sink) {
    backendOptions.output = { sink, format: parsed.format, nanosecond: parsed.nanosecond, flushIntervalMs: parsed.flushIntervalMs, interfaceName: config.name };
  }
  return new PcapBackend(backendOptions);
}

/** The `pcap` entry for a backend registry. */
export const pcapBackendFactory: BackendFactory = {
  prefix: 'pcap',
  description: 'replays a pcap/pcapng file to the guest (in=) and records what the guest sends (out=)',
  options: PCAP_OPTIONS,
  examples: ['pcap,in=trace.pcap', 'pcap,in=a.pcapng,pace=original,loop=3', 'pcap,out=guest.pcapng', 'pcap,in=a.pcap,out=b.pcap,format=pcap,flush=200'],
  create: (config) => createPcapBackend(config),
};

/** Registers the `pcap` prefix (once; a second call is a no-op). */
export function registerPcapBackend(registry: BackendRegistry = defaultRegistry): void {
  registry.registerOnce(pcapBackendFactory);
}
