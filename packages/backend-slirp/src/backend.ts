import { readFileSync } from 'node:fs';
import { BackendBase, BackendConfig, NetbeError, gatherIov, scatterIov, type Iov } from '@netbe/core';
import { formatIpv4 } from '@netbe/wire';
import { NodeSlirpHost } from './node-host';
import { parseSlirpConfig, type HostForward, type SlirpOptions } from './options';
import { parseResolvConf } from './resolv-conf';
import { SlirpStack, type SlirpDescription } from './stack';
import type { SlirpCounters } from './counters';

export interface SlirpBackendOptions {
  /** Where log lines go (default: warnings to stderr, debug lines only with `debug=on`). */
  log?: (level: 'debug' | 'info' | 'warn', message: string) => void;
  /** The resolv.conf to read when no `resolver` option is given. */
  resolvConf?: string;
}

/** Largest frame the guest may hand us: 64 KiB IP + Ethernet/VLAN header. */
const MAX_FRAME = 65535 + 18;

/**
 * The `slirp` backend: a user-mode NAT (the sans-I/O {@link SlirpStack}) driven by Node sockets.
 * No root, no tap device: the guest's traffic leaves through ordinary host sockets. Frames are
 * plain Ethernet (no virtio-net header: the device adapts), no offloads.
 */
export class SlirpBackend extends BackendBase {
  readonly stack: SlirpStack;
  readonly host: NodeSlirpHost;
  private readonly scratch = new Uint8Array(MAX_FRAME);

  private constructor(name: string, options: SlirpOptions, host: NodeSlirpHost) {
    super(name);
    this.host = host;
    this.stack = new SlirpStack(options, { host, clock: () => host.now() });
    host.bind(this.stack);
    for (const f of this.stack.hostForwards) if (f.rule.protocol === 'udp') host.markListener(f.handle);
    this.stack.onOutput = () => this.rx.notify();
  }

  /**
   * Creates the backend and waits until every hostfwd listener is bound (an address in use is a
   * `NetbeError` ERR_IO naming the rule, not a later surprise).
   */
  static async create(spec: string | BackendConfig | Record<string, unknown>, opts: SlirpBackendOptions = {}): Promise<SlirpBackend> {
    const config = BackendConfig.from(spec);
    const options = parseSlirpConfig(config);
    const debug = config.bool('debug', false);
    const log = opts.log ?? ((level: string, message: string) => {
      if (level === 'warn' || debug) console.error(`slirp ${level}: ${message}`);
    });
    if (options.resolvers.length === 0 && !options.restrict) {
      try {
        options.resolvers = parseResolvConf(readFileSync(opts.resolvConf ?? '/etc/resolv.conf', 'utf8'));
      } catch (e) {
        log('warn', `dns: cannot read ${opts.resolvConf ?? '/etc/resolv.conf'} (${(e as Error).message}); DNS forwarding is off`);
      }
      if (options.resolvers.length === 0) log('warn', 'dns: no IPv4 nameserver found; DNS queries will be dropped');
    }
    const host = new NodeSlirpHost({ icmp: config.bool('icmp', true), log });
    const backend = new SlirpBackend(config.toString(), options, host);
    const pending = backend.stack.hostForwards;
    if (pending.length > 0) {
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (pending.every((f) => host.listenerResults.has(f.handle))) resolve();
        };
        host.onListenerResult = check;
        check();
      });
      for (const f of pending) {
        const r = host.listenerResults.get(f.handle)!;
        if (r.error !== undefined) {
          await backend.close();
          throw new NetbeError('ERR_IO', `hostfwd=${describe(f.rule)}: cannot bind: ${r.error}`, { errno: r.error });
        }
        f.rule.hostPort = r.port!;
      }
    }
    return backend;
  }

  /** The stack's counters: flows, drops by reason (`stats` has the contract's frame counters). */
  get stackCounters(): SlirpCounters {
    return this.stack.counters;
  }

  /** Leases, neighbours, flows, connections and counters, as plain JSON (for `netbe` status output). */
  describe(): SlirpDescription {
    return this.stack.describe(this.host.now());
  }

  /** The hostfwd rules as bound (an ephemeral host port 0 is replaced by the real one). */
  get hostForwards(): HostForward[] {
    return this.stack.hostForwards.map((f) => f.rule);
  }

  // BackendBase hooks: the base class checks state and arguments and keeps the counters.

  protected transmit(iov: Iov, iovcnt: number, length: number): boolean {
    if (length > MAX_FRAME) return false;
    const frame = iovcnt === 1 ? iov[0]! : this.scratch.subarray(0, gatherIov(iov, iovcnt, this.scratch, 0));
    this.host.schedule(this.stack.input(frame, this.host.now()));
    return true;
  }

  protected pendingLength(): number {
    return this.stack.peekFrame()?.length ?? 0;
  }

  protected receive(iov: Iov, iovcnt: number): number {
    const f = this.stack.peekFrame();
    if (!f) return 0;
    const n = scatterIov(f, 0, f.length, iov, iovcnt);
    this.stack.takeFrame();
    return n;
  }

  protected discard(): number {
    return this.stack.takeFrame()?.length ?? 0;
  }

  /** No offloads, and always header length 0: the device strips/prepends the header (bhyve semantics). */
  protected applyCap(): number {
    return 0;
  }

  protected override async release(): Promise<void> {
    this.stack.close();
    await this.host.close();
  }
}

function describe(r: HostForward): string {
  return `${r.protocol}:${formatIpv4(r.hostAddr)}:${r.hostPort}-${formatIpv4(r.guestAddr)}:${r.guestPort}`;
}
