import type { NetBackend } from './backend';
import { BackendConfig } from './config';
import { ConfigError, NetbeError } from './errors';
import { parseMac, parseMtu } from './mac-mtu';

/** One option a backend accepts, for validation and for `netbe backends`. */
export interface BackendOption {
  name: string;
  description: string;
  /** May be given more than once (`hostfwd=…,hostfwd=…`). */
  repeatable?: boolean;
}

/**
 * What a backend registers (bhyve's NET_BACKEND_SET template): the name prefix it answers to,
 * its options, and a factory.
 */
export interface BackendFactory {
  /** Matched against the start of the config name: `tap` matches `tap0` and `tap:foo`. */
  prefix: string;
  description: string;
  options: readonly BackendOption[];
  /** Example config strings, shown by `netbe backends`. */
  examples?: readonly string[];
  create(config: BackendConfig): NetBackend | Promise<NetBackend>;
}

/**
 * Options every config string may carry whatever the backend: they configure the NIC, not the
 * backend (bhyve reads `mac` and `mtu` from the same string), or select the backend (`type`).
 */
export const DEVICE_OPTIONS: readonly BackendOption[] = [
  { name: 'mac', description: 'the NIC MAC address (aa:bb:cc:dd:ee:ff); default derived from the name' },
  { name: 'mtu', description: 'the NIC MTU (46..65535), offered to the guest with VIRTIO_NET_F_MTU' },
  { name: 'type', description: 'the backend type, when the name does not start with its prefix' },
];

export class BackendRegistry {
  private readonly factories = new Map<string, BackendFactory>();

  /** Adds a backend. A prefix may be registered once; a third party picks its own. */
  register(factory: BackendFactory): void {
    if (!/^[a-z][a-z0-9_-]*:?$/i.test(factory.prefix)) {
      throw new ConfigError('prefix', `"${factory.prefix}" is not a valid backend prefix`);
    }
    if (this.factories.has(factory.prefix)) {
      throw new ConfigError('prefix', `a backend with prefix "${factory.prefix}" is already registered`);
    }
    this.factories.set(factory.prefix, factory);
  }

  /**
   * Registers `factory` unless its prefix is already taken; what a backend package does on
   * import, so that importing it twice (or two copies of it) is harmless. True when it was added.
   */
  registerOnce(factory: BackendFactory): boolean {
    if (this.factories.has(factory.prefix)) return false;
    this.register(factory);
    return true;
  }

  unregister(prefix: string): boolean {
    return this.factories.delete(prefix);
  }

  /** The factory whose prefix matches `type`; the longest prefix wins (bhyve's order is unspecified). */
  match(type: string): BackendFactory | undefined {
    let best: BackendFactory | undefined;
    for (const f of this.factories.values()) {
      if (type.startsWith(f.prefix) && (!best || f.prefix.length > best.prefix.length)) best = f;
    }
    return best;
  }

  list(): BackendFactory[] {
    return [...this.factories.values()].sort((a, b) => a.prefix.localeCompare(b.prefix));
  }

  /**
   * Validates a config against the matching backend's options and creates the backend.
   * Unknown prefix: NetbeError ERR_UNKNOWN_BACKEND. Unknown or repeated option: ConfigError.
   */
  async create(spec: string | BackendConfig | Record<string, unknown>): Promise<NetBackend> {
    const config = BackendConfig.from(spec);
    const factory = this.match(config.type);
    if (!factory) {
      const known = this.list().map((f) => f.prefix).join(', ') || 'none registered';
      throw new NetbeError('ERR_UNKNOWN_BACKEND', `no backend matches "${config.type}" (known prefixes: ${known})`);
    }
    this.validate(factory, config);
    return factory.create(config);
  }

  private validate(factory: BackendFactory, config: BackendConfig): void {
    const known = new Map<string, BackendOption>();
    for (const o of [...DEVICE_OPTIONS, ...factory.options]) known.set(o.name, o);
    for (const key of config.keys()) {
      const option = known.get(key);
      if (!option) {
        const names = [...known.keys()].join(', ');
        throw new ConfigError(key, `unknown option for the ${factory.prefix} backend (accepted: ${names})`);
      }
      if (!option.repeatable && config.getAll(key).length > 1) throw new ConfigError(key, 'given more than once');
    }
    // The NIC options are checked here too, so a bad value fails at creation, naming the option.
    const mac = config.get('mac');
    if (mac !== undefined) parseMac(mac);
    const mtu = config.get('mtu');
    if (mtu !== undefined) parseMtu(mtu);
  }
}

/** The process-wide registry that `createBackend` uses and built-in backends register into. */
export const defaultRegistry = new BackendRegistry();

export function registerBackend(factory: BackendFactory): void {
  defaultRegistry.register(factory);
}

export function createBackend(spec: string | BackendConfig | Record<string, unknown>): Promise<NetBackend> {
  return defaultRegistry.create(spec);
}
