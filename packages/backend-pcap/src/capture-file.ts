import { BackendConfig, ConfigError, createBackend, defaultRegistry, type BackendRegistry, type NetBackend } from '@netbe/core';
import { formatFromPath } from '@netbe/pcap';
import { openFileSink } from '@netbe/pcap/node';
import { CaptureBackend, type CaptureOptions } from './capture-backend';

export type CaptureFileOptions = Omit<CaptureOptions, 'sink'>;

/**
 * Wraps `backend` so both directions are written to the capture file at `path` (pcapng with
 * direction flags unless the extension says .pcap). `netbe serve --capture FILE` calls this.
 */
export async function captureToFile(backend: NetBackend, path: string, options: CaptureFileOptions = {}): Promise<CaptureBackend> {
  let sink;
  try {
    sink = await openFileSink(path);
  } catch (e) {
    throw new ConfigError('capture', `cannot create "${path}": ${e instanceof Error ? e.message : String(e)}`);
  }
  return new CaptureBackend(backend, { format: formatFromPath(path) ?? 'pcapng', ...options, sink });
}

/**
 * `createBackend` that also understands a `capture=FILE` option on any backend's config string
 * (`tap0,capture=/tmp/tap0.pcapng`): the option is taken out, the backend created from the rest,
 * and wrapped by {@link captureToFile}.
 */
export async function createBackendWithCapture(
  spec: string | BackendConfig | Record<string, unknown>,
  options: CaptureFileOptions & { registry?: BackendRegistry } = {},
): Promise<NetBackend> {
  const config = BackendConfig.from(spec);
  const capture = config.getAll('capture');
  const registry = options.registry ?? defaultRegistry;
  if (capture.length === 0) return registry === defaultRegistry ? createBackend(config) : registry.create(config);
  if (capture.length > 1) throw new ConfigError('capture', 'given more than once');
  if (capture[0] === '' || capture[0] === 'on') throw new ConfigError('capture', 'needs a file name (capture=FILE)');
  const rest = new BackendConfig(
    config.name,
    config.keys().filter((k) => k !== 'capture').flatMap((k) => config.getAll(k).map((v): [string, string] => [k, v])),
  );
  const inner = await registry.create(rest);
  try {
    const { registry: _registry, ...captureOptions } = options;
    return await captureToFile(inner, capture[0]!, captureOptions);
  } catch (e) {
    await inner.close();
    throw e;
  }
}
