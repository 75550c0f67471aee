/**
 * `netbe serve`: one virtio-net NIC, served over vhost-user on the chosen backend, until a
 * signal. Prints the QEMU arguments that attach a VM to it.
 */
import { BackendConfig, ConfigError, NetbeError, defaultRegistry, formatMac, parseMac, parseMtu, type NetBackend } from '@netbe/core';
import { VirtioNetDevice } from '@netbe/virtio-net';
import { VhostUserNetDevice, VhostUserServer, qemuVhostUserCommandLine } from '@netbe/vhost-user';
import { captureToFile, createBackendWithCapture } from '@netbe/backend-pcap';
import { loadBackends } from './load-backends';
import { sample, statsLine } from './stats-line';
import { UsageError } from './usage-error';

/** The embedded default backend: the user-mode network, which needs no root and no set-up. */
export const DEFAULT_BACKEND = 'slirp';

export interface ServeOptions {
  socketPath: string;
  /** Backend config string; default {@link DEFAULT_BACKEND}. */
  backend?: string;
  mac?: string;
  mtu?: string;
  /** Write both directions to this pcapng (or .pcap) file, with direction flags. */
  capture?: string;
  /** Print a stats line every this many seconds. */
  statsSeconds?: number;
  queueSize?: number;
  /** Guest RAM (MiB) in the printed QEMU line. */
  memMiB?: number;
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface RunningNic {
  server: VhostUserServer;
  net: VirtioNetDevice;
  backend: NetBackend;
  stop(): Promise<void>;
}

/** Validates everything, creates the backend and starts serving. Throws UsageError for a bad option. */
export async function startServe(o: ServeOptions): Promise<RunningNic> {
  if (!o.socketPath) throw new UsageError('--vhost-user', 'a socket path is required (for example --vhost-user /tmp/netbe.sock)');
  if (/[,\s]/.test(o.socketPath)) throw new UsageError('--vhost-user', `"${o.socketPath}" contains a comma or a space, which QEMU's -chardev option cannot carry`);
  const load = await loadBackends();
  const spec = o.backend ?? DEFAULT_BACKEND;
  let config: BackendConfig;
  try {
    config = BackendConfig.parse(spec);
  } catch (e) {
    throw new UsageError('--backend', (e as ConfigError).reason ?? (e as Error).message);
  }
  if (!defaultRegistry.match(config.type)) {
    const known = defaultRegistry.list().map((f) => f.prefix).join(', ') || 'none';
    if (o.backend === undefined) {
      const why = load.unavailable.find((u) => u.pkg === '@netbe/backend-slirp')?.reason ?? 'not available';
      throw new UsageError('--backend', `the default backend is the user-mode network "slirp", which this installation does not have (@netbe/backend-slirp: ${why}); choose a backend with --backend (available: ${known}; see "netbe backends")`);
    }
    throw new UsageError('--backend', `no backend is called "${config.type}" (available: ${known}; see "netbe backends")`);
  }
  const mac = pickOption('mac', o.mac, config.get('mac'), (t) => parseMac(t, '--mac'));
  const mtu = pickOption('mtu', o.mtu, config.get('mtu'), (t) => parseMtu(t, '--mtu'));
  let backend: NetBackend;
  try {
    // `capture=FILE` inside the spec wraps the backend as --capture does.
    backend = await createBackendWithCapture(config);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError('--backend', `${e.option}: ${e.reason}`);
    if (e instanceof NetbeError) throw new UsageError('--backend', `${spec}: ${e.message}`);
    throw e;
  }
  if (o.capture !== undefined) {
    if (config.has('capture')) {
      await backend.close();
      throw new UsageError('--capture', 'also given as capture= in --backend; give it once');
    }
    try {
      backend = await captureToFile(backend, o.capture);
    } catch (e) {
      await backend.close();
      throw new UsageError('--capture', e instanceof ConfigError ? e.reason : (e as Error).message);
    }
  }
  let server: VhostUserServer;
  let net: VirtioNetDevice;
  try {
    net = new VirtioNetDevice({ backend, mac, mtu, queueSize: o.queueSize });
    server = VhostUserServer.listen({ socketPath: o.socketPath, device: new VhostUserNetDevice(net), log: (l) => o.err(`netbe: ${l}`) });
  } catch (e) {
    await backend.close();
    throw new UsageError('--vhost-user', `cannot serve on ${o.socketPath}: ${(e as Error).message}`);
  }
  const macText = formatMac(net.config.mac);
  o.out(`netbe: serving one virtio-net NIC (MAC ${macText}, backend ${spec}${mtu ? `, MTU ${mtu}` : ''}) on vhost-user socket ${o.socketPath}`);
  if (o.capture !== undefined) o.out(`netbe: capturing both directions to ${o.capture}`);
  o.out('netbe: attach a QEMU VM with these arguments (guest RAM must be this shared memfd; vectors=0 is needed by QEMU 7.2):');
  o.out(`  ${qemuVhostUserCommandLine({ socketPath: o.socketPath, memMiB: o.memMiB ?? 1024, mac: macText })}`);
  let timer: ReturnType<typeof setInterval> | undefined;
  if (o.statsSeconds) {
    let last = sample(Date.now(), net.stats, backend.stats);
    timer = setInterval(() => {
      const now = sample(Date.now(), net.stats, backend.stats);
      o.out(`netbe: ${statsLine(last, now)}`);
      last = now;
    }, o.statsSeconds * 1000);
  }
  let stopped = false;
  return {
    server,
    net,
    backend,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      await server.close();
      await backend.close();
    },
  };
}

/** An option given both on the command line and in the backend spec must agree. */
function pickOption<T>(name: string, flag: string | undefined, inSpec: string | undefined, parse: (text: string) => T): T | undefined {
  if (flag !== undefined && inSpec !== undefined && flag !== inSpec) throw new UsageError(`--${name}`, `"${flag}" differs from ${name}=${inSpec} in --backend; give it once`);
  const text = flag ?? inSpec;
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(flag !== undefined ? `--${name}` : `--backend ${name}`, e.reason);
    throw e;
  }
}
