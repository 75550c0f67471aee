import { ConfigError } from './errors';

/**
 * A parsed backend config string. bhyve's form is `NAME[,key=value,...]`, for example
 * `tap0,mac=00:a0:98:12:34:56,mtu=9000`; QEMU-style repeated keys (`hostfwd=…,hostfwd=…`) are
 * kept in order. A bare word after the name (`slirp,restrict`) is a flag with the value "on".
 */
export class BackendConfig {
  /** The device name: the first element, e.g. `tap0`, `netmap:eth0`, `vale0:1`, `slirp`. */
  readonly name: string;
  /** The backend type used for the prefix match: the `type=` option, else {@link name}. */
  readonly type: string;
  private readonly values = new Map<string, string[]>();

  constructor(name: string, options: Iterable<[string, string]> = []) {
    if (name.length === 0) throw new ConfigError('backend', 'the backend name is empty');
    this.name = name;
    for (const [key, value] of options) {
      const list = this.values.get(key);
      if (list) list.push(value);
      else this.values.set(key, [value]);
    }
    this.type = this.get('type') ?? name;
  }

  /** Parses `NAME[,key=value|flag]*`. Empty elements and keys are errors naming the position. */
  static parse(spec: string): BackendConfig {
    if (typeof spec !== 'string') throw new ConfigError('backend', 'the backend spec must be a string');
    const parts = spec.split(',');
    const name = parts[0]!.trim();
    if (name === '') throw new ConfigError('backend', `no backend name in "${spec}"`);
    const options: Array<[string, string]> = [];
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i]!.trim();
      if (part === '') throw new ConfigError('backend', `empty option at position ${i} in "${spec}"`);
      const eq = part.indexOf('=');
      const key = eq < 0 ? part : part.slice(0, eq);
      if (key === '') throw new ConfigError('backend', `option without a name at position ${i} in "${spec}"`);
      options.push([key, eq < 0 ? 'on' : part.slice(eq + 1)]);
    }
    return new BackendConfig(name, options);
  }

  /**
   * The object form: `{ backend: 'tap0', mac: '…', mtu: 9000, hostfwd: ['…', '…'] }`.
   * Numbers and booleans become strings (`true` → "on").
   */
  static fromObject(obj: Record<string, unknown>): BackendConfig {
    const { backend, ...rest } = obj;
    if (typeof backend !== 'string') throw new ConfigError('backend', 'the object form needs a string "backend" key');
    const options: Array<[string, string]> = [];
    for (const [key, value] of Object.entries(rest)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (v === undefined) continue;
        if (typeof v === 'boolean') options.push([key, v ? 'on' : 'off']);
        else if (typeof v === 'number' || typeof v === 'string') options.push([key, String(v)]);
        else throw new ConfigError(key, `expected a string, number or boolean, got ${typeof v}`);
      }
    }
    return new BackendConfig(backend, options);
  }

  static from(spec: string | BackendConfig | Record<string, unknown>): BackendConfig {
    if (spec instanceof BackendConfig) return spec;
    return typeof spec === 'string' ? BackendConfig.parse(spec) : BackendConfig.fromObject(spec);
  }

  /** The option names present, in first-seen order. */
  keys(): string[] {
    return [...this.values.keys()];
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  /** The last value given for `key` (later options override earlier ones), or undefined. */
  get(key: string): string | undefined {
    const list = this.values.get(key);
    return list ? list[list.length - 1] : undefined;
  }

  /** Every value given for a repeatable key, in order. */
  getAll(key: string): string[] {
    return [...(this.values.get(key) ?? [])];
  }

  /** A string option that must be present. */
  require(key: string): string {
    const v = this.get(key);
    if (v === undefined || v === '') throw new ConfigError(key, 'is required');
    return v;
  }

  /** An on/off option: on|yes|true|1 and off|no|false|0. */
  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key);
    if (v === undefined) return fallback;
    const lower = v.toLowerCase();
    if (['on', 'yes', 'true', '1'].includes(lower)) return true;
    if (['off', 'no', 'false', '0'].includes(lower)) return false;
    throw new ConfigError(key, `expected on or off, got "${v}"`);
  }

  /** An integer option within [min, max]. */
  int(key: string, fallback: number, min: number, max: number): number {
    const v = this.get(key);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) throw new ConfigError(key, `expected an integer, got "${v}"`);
    const n = Number(v);
    if (n < min || n > max) throw new ConfigError(key, `${n} is outside ${min}..${max}`);
    return n;
  }

  /** One of a fixed set of words. */
  choice<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const v = this.get(key);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(key, `expected one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  }

  /** Back to the string form (round-trips through {@link parse}). */
  toString(): string {
    const parts = [this.name];
    for (const [key, list] of this.values) for (const v of list) parts.push(`${key}=${v}`);
    return parts.join(',');
  }
}
