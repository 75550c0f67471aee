/**
 * `netbe patch SPEC SPEC`: two backends back to back, no guest in between — a patch cable.
 * What one end receives, the other sends. The way slirp4netns and pasta serve a network
 * namespace: `netbe patch tap:ns0 slirp` gives the namespace behind the tap the user-mode network.
 */
import {
  BackendConfig, ConfigError, NetbeError, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_UFO,
  VNET_HDR_LEN, defaultRegistry, netFeatureNames, type NetBackend,
} from '@netbe/core';
import { createBackendWithCapture } from '@netbe/backend-pcap';
import { BusyPoll, DEFAULT_BUSY_POLL_US, type BusyPollStats } from './busy-poll';
import { loadBackends } from './load-backends';
import { UsageError } from './usage-error';

/** Largest frame carried: 64 KiB IP + Ethernet/VLAN header + a 12-byte virtio-net header. */
const MAX_PATCH_FRAME = 65535 + 18 + VNET_HDR_LEN;
/** Frames moved per rxReady callback before yielding to the event loop (fairness between ends). */
const BATCH = 256;

/** Each guest-RX offload bit and the guest-TX bit that accepts what it produces (virtio 1.2 §5.1.3). */
const RX_TX_PAIRS: ReadonlyArray<readonly [bigint, bigint]> = [
  [VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_CSUM],
  [VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4],
  [VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_HOST_TSO6],
  [VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_HOST_ECN],
  [VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_HOST_UFO],
];

/**
 * The features to give `self` when patched to `peer`: `self` may hand out frames with an offload
 * (GUEST_x, as if `self`'s guest accepted it) only when `peer` accepts it on send (HOST_x/CSUM),
 * and accept one (HOST_x/CSUM) only when `peer` may produce it (GUEST_x). Segmentation offloads
 * need the checksum offload of the same direction (virtio 1.2 §5.1.3.1).
 */
export function patchFeatures(self: bigint, peer: bigint): bigint {
  let f = 0n;
  for (const [rx, tx] of RX_TX_PAIRS) {
    if ((self & rx) !== 0n && (peer & tx) !== 0n) f |= rx;
    if ((self & tx) !== 0n && (peer & rx) !== 0n) f |= tx;
  }
  if ((f & VIRTIO_NET_F_GUEST_CSUM) === 0n) f &= ~(VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_GUEST_UFO);
  if ((f & VIRTIO_NET_F_CSUM) === 0n) f &= ~(VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN | VIRTIO_NET_F_HOST_UFO);
  return f;
}

/** Counters of one direction of the cable. */
export interface PatchDirectionStats {
  frames: number;
  bytes: number;
  /** Frames the receiving end's send refused (its own txDrops counts them too). */
  drops: number;
}

export interface Patch {
  a: NetBackend;
  b: NetBackend;
  /** The header length both ends use: 12 when both carry one, else 0 (frames are plain). */
  readonly vnetHdrLen: number;
  /** Offloads negotiated for end a and end b. */
  readonly features: { a: bigint; b: bigint };
  readonly aToB: Readonly<PatchDirectionStats>;
  readonly bToA: Readonly<PatchDirectionStats>;
  /** Busy polling after traffic (see {@link BusyPoll}). */
  readonly busyPoll: Readonly<BusyPollStats>;
  stop(): Promise<void>;
}

export interface PatchOptions {
  /**
   * After frames move, keep the event loop polling (not sleeping) for this many µs, so the next
   * frame of an exchange is seen at once (default {@link DEFAULT_BUSY_POLL_US}; 0: off).
   */
  busyPollUs?: number;
}

/**
 * Cables two open backends together. Header lengths: when both report offloads, both get
 * {@link patchFeatures} and a 12-byte header and frames pass with their headers; when either
 * reports none (or an end keeps header length 0), both use 0 and frames are plain.
 * Backpressure is a counted drop: the sending end's `send` refuses, the frame is gone.
 */
export function connectPatch(a: NetBackend, b: NetBackend, options: PatchOptions = {}): Patch {
  const capA = a.getCap();
  const capB = b.getCap();
  let featA = 0n;
  let featB = 0n;
  let hdr = 0;
  if (capA !== 0n && capB !== 0n) {
    featA = patchFeatures(capA, capB);
    featB = patchFeatures(capB, capA);
    a.setCap(featA, VNET_HDR_LEN);
    b.setCap(featB, VNET_HDR_LEN);
    if (a.vnetHdrLen === VNET_HDR_LEN && b.vnetHdrLen === VNET_HDR_LEN) hdr = VNET_HDR_LEN;
  }
  if (hdr === 0) {
    featA = featB = 0n;
    a.setCap(0n, 0);
    b.setCap(0n, 0);
  }
  const aToB: PatchDirectionStats = { frames: 0, bytes: 0, drops: 0 };
  const bToA: PatchDirectionStats = { frames: 0, bytes: 0, drops: 0 };
  const buf = new Uint8Array(MAX_PATCH_FRAME);
  const iov = [buf];
  const out = [buf];
  let stopped = false;
  const pending = new Set<ReturnType<typeof setImmediate>>();

  const pump = (from: NetBackend, to: NetBackend, st: PatchDirectionStats): void => {
    if (stopped) return;
    for (let i = 0; i < BATCH; i++) {
      // recv without peekRecvLen: the buffer holds any frame, and a tap then reads straight
      // into it (a peek would read into the tap's bounce buffer and copy).
      const n = from.recv(iov, 1);
      if (n === 0) return;
      if (n < 0) {
        st.drops++;
        continue;
      }
      out[0] = buf.subarray(0, n);
      if (to.send(out, 1) > 0) {
        st.frames++;
        st.bytes += n - hdr;
      } else st.drops++;
    }
    // More frames than one batch: continue on a later turn so the other direction runs too.
    const t = setImmediate(() => {
      pending.delete(t);
      pump(from, to, st);
    });
    pending.add(t);
  };
  const busy = new BusyPoll({ windowUs: options.busyPollUs ?? DEFAULT_BUSY_POLL_US });
  a.attach({
    rxReady: () => {
      pump(a, b, aToB);
      busy.kick();
    },
  });
  b.attach({
    rxReady: () => {
      pump(b, a, bToA);
      busy.kick();
    },
  });
  a.rxEnable();
  b.rxEnable();
  return {
    a,
    b,
    vnetHdrLen: hdr,
    features: { a: featA, b: featB },
    aToB,
    bToA,
    busyPoll: busy.stats,
    async stop() {
      if (stopped) return;
      stopped = true;
      busy.stop();
      for (const t of pending) clearImmediate(t);
      pending.clear();
      a.rxDisable();
      b.rxDisable();
      await Promise.allSettled([a.close(), b.close()]);
    },
  };
}

/** Opens one end from its spec; a bad spec is a UsageError naming the argument. */
export async function openPatchEnd(spec: string, which: 'first' | 'second'): Promise<NetBackend> {
  const arg = `${which} SPEC`;
  let config: BackendConfig;
  try {
    config = BackendConfig.parse(spec);
  } catch (e) {
    throw new UsageError(arg, (e as ConfigError).reason ?? (e as Error).message);
  }
  if (!defaultRegistry.match(config.type)) {
    const known = defaultRegistry.list().map((f) => f.prefix).join(', ') || 'none';
    throw new UsageError(arg, `no backend is called "${config.type}" (available: ${known}; see "netbe backends")`);
  }
  try {
    return await createBackendWithCapture(config);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(arg, `${spec}: ${e.option}: ${e.reason}`);
    if (e instanceof NetbeError) throw new UsageError(arg, `${spec}: ${e.message}`);
    throw e;
  }
}

export interface PatchCommandOptions extends PatchOptions {
  specA: string;
  specB: string;
  statsSeconds?: number;
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface RunningPatch extends Patch {
  /** Stops the stats timer, then the cable and both ends. */
  stop(): Promise<void>;
}

function rate(n: number, unit: string): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k${unit}`;
  return `${n.toFixed(0)} ${unit}`;
}

/** "a→b 1.2 kframes/s 9.8 Mbit/s 0 drops | b→a …" over `seconds`. */
export function patchStatsLine(prev: PatchDirectionStats[], now: PatchDirectionStats[], seconds: number): string {
  const s = Math.max(1e-3, seconds);
  const dir = (p: PatchDirectionStats, n: PatchDirectionStats): string =>
    `${rate((n.frames - p.frames) / s, 'frames/s')} ${rate(((n.bytes - p.bytes) * 8) / s, 'bit/s')} ${n.drops - p.drops} drops`;
  return `a→b ${dir(prev[0]!, now[0]!)} | b→a ${dir(prev[1]!, now[1]!)}`;
}

/** Opens both ends, cables them, and prints a stats line every `statsSeconds`. */
export async function startPatch(o: PatchCommandOptions): Promise<RunningPatch> {
  await loadBackends();
  const a = await openPatchEnd(o.specA, 'first');
  let b: NetBackend;
  try {
    b = await openPatchEnd(o.specB, 'second');
  } catch (e) {
    await a.close();
    throw e;
  }
  let patch: Patch;
  try {
    patch = connectPatch(a, b, { busyPollUs: o.busyPollUs });
  } catch (e) {
    await Promise.allSettled([a.close(), b.close()]);
    throw e;
  }
  const offloads = netFeatureNames(patch.features.a | patch.features.b);
  o.out(`netbe: patched ${o.specA} <-> ${o.specB} (${patch.vnetHdrLen ? `virtio-net header ${patch.vnetHdrLen}, offloads ${offloads.join('+') || 'none'}` : 'plain frames, no offloads'})`);
  let timer: ReturnType<typeof setInterval> | undefined;
  if (o.statsSeconds) {
    const snap = (): PatchDirectionStats[] => [{ ...patch.aToB }, { ...patch.bToA }];
    let last = snap();
    let lastAt = Date.now();
    timer = setInterval(() => {
      const now = snap();
      const at = Date.now();
      o.out(`netbe: ${patchStatsLine(last, now, (at - lastAt) / 1000)}`);
      last = now;
      lastAt = at;
    }, o.statsSeconds * 1000);
  }
  return Object.assign(Object.create(null) as object, patch, {
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await patch.stop();
    },
  }) as RunningPatch;
}
