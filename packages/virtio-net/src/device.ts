import { NET_OFFLOAD_FEATURES, NetbeError, VIRTIO_NET_F_MRG_RXBUF, defaultMac, parseMac, type NetBackend } from '@netbe/core';
import { type GuestMemory, SplitQueue, VirtioError, type SplitQueueState } from '@netbe/virtio';
import { NetConfigSpace } from './config-space';
import { DEFAULT_QUEUE_SIZE, NET_QUEUE_COUNT, RX_QUEUE, TX_QUEUE } from './constants';
import { F_VERSION_1, featureProblem, guestHeaderLength, offeredFeatures } from './features';
import { NetReceiver } from './receive';
import { type NetDeviceSnapshot, parseSnapshot } from './snapshot';
import { newQueueStats, type NetDeviceStats } from './stats';
import { NetTransmitter } from './transmit';

export interface VirtioNetDeviceOptions {
  /** The backend frames go to and come from. The device attaches itself as its listener. */
  backend: NetBackend;
  /** The MAC in config space: bytes or `aa:bb:cc:dd:ee:ff`. Default: derived from the backend name. */
  mac?: Uint8Array | string;
  /** When given, config `mtu` holds it and VIRTIO_NET_F_MTU is offered (46..65535). */
  mtu?: number;
  /** Largest (and default) ring size per queue, a power of two; default 1024. */
  queueSize?: number;
  /** Signal a used-buffer notification for queue `queueIndex` (an MSI-X vector, INTx, a call eventfd). */
  interrupt?: (queueIndex: number) => void;
  /** Signal a configuration change notification (link status changed). */
  configChanged?: () => void;
  /** A queue broke (ring-level guest error): the transport usually sets NEEDS_RESET. */
  queueError?: (queueIndex: number, error: VirtioError) => void;
  /** Schedules a continuation after a full processing budget (default: a zero-delay timer). */
  defer?: (task: () => void) => void;
  /** Chains (TX) or frames (RX) per processing pass before yielding; default 4 × queueSize. */
  batchLimit?: number;
}

interface IdleAction {
  run: () => void;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const defaultDefer = (task: () => void): void => {
  setTimeout(task, 0);
};

/**
 * The virtio-net device (virtio 1.2 §5.1; bhyve pci_virtio_net.c), transport-agnostic. A
 * transport (the PCI register models of this package, vhost-user, a test) drives it:
 *
 * 1. `device.memory = …`; `negotiate(features)`;
 * 2. per queue: set `queue(i).size` and the ring addresses, then `startQueue(i)`;
 * 3. `start()` once the driver is ready (DRIVER_OK);
 * 4. `kick(i)` on every driver notification; the device calls `interrupt(i)` and
 *    `configChanged()`.
 *
 * RX is queue 0, TX queue 1; the control queue is not offered. Processing is synchronous on the
 * caller's event loop: a kick drains every available TX chain, an RX readiness delivers every
 * frame the guest has room for; used entries are published and the interrupt is decided once
 * per batch (EVENT_IDX, NOTIFY_ON_EMPTY, NO_INTERRUPT).
 */
export class VirtioNetDevice {
  readonly backend: NetBackend;
  readonly config: NetConfigSpace;
  readonly offeredFeatures: bigint;
  readonly queueSize: number;
  readonly stats: NetDeviceStats = { rx: newQueueStats(), tx: newQueueStats(), configChanges: 0 };
  interrupt: (queueIndex: number) => void;
  configChanged: () => void;
  queueError: (queueIndex: number, error: VirtioError) => void;

  private guestMemory: GuestMemory | null = null;
  private readonly queues: SplitQueue[];
  private readonly queueEnabled = [false, false];
  private readonly configuredMac: Uint8Array;
  private readonly transmitter: NetTransmitter;
  private readonly receiver: NetReceiver;
  private readonly defer: (task: () => void) => void;
  private readonly batchLimit: number;
  private negotiatedFeatures = 0n;
  private featuresDone = false;
  private started = false;
  private paused = false;
  private adminLinkUp = true;
  private backendLinkUp = true;
  private backendRxOn = false;
  private rxBusy = false;
  private busyDepth = 0;
  private readonly idleActions: IdleAction[] = [];
  /** Bumped by reset/restore so deferred continuations of an older life do nothing. */
  private epoch = 0;
  private txContinuationPending = false;
  private rxContinuationPending = false;

  constructor(options: VirtioNetDeviceOptions) {
    this.backend = options.backend;
    const mac = options.mac === undefined ? defaultMac(options.backend.name) : typeof options.mac === 'string' ? parseMac(options.mac) : options.mac;
    this.configuredMac = Uint8Array.from(mac);
    this.config = new NetConfigSpace(this.configuredMac, options.mtu);
    this.offeredFeatures = offeredFeatures(this.backend.getCap(), options.mtu !== undefined);
    this.queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.interrupt = options.interrupt ?? (() => {});
    this.configChanged = options.configChanged ?? (() => {});
    this.queueError = options.queueError ?? (() => {});
    this.defer = options.defer ?? defaultDefer;
    this.batchLimit = options.batchLimit ?? 4 * this.queueSize;
    this.queues = [];
    for (let i = 0; i < NET_QUEUE_COUNT; i++) {
      const index = i;
      this.queues.push(new SplitQueue({ maxSize: this.queueSize, malformedChains: 'drop', onError: (error) => this.queueError(index, error) }));
    }
    this.transmitter = new NetTransmitter(this.backend, this.stats.tx, this.queueSize);
    this.receiver = new NetReceiver(this.backend, this.stats.rx);
    this.backend.attach({ rxReady: () => this.receive(), linkChange: (up) => this.setBackendLink(up) });
  }

  // ---- guest memory and queues -------------------------------------------------------------

  get memory(): GuestMemory | null {
    return this.guestMemory;
  }

  /** Sets or replaces guest memory; enabled queues are re-bound to it (indices kept). */
  set memory(memory: GuestMemory | null) {
    this.guestMemory = memory;
    this.transmitter.forgetViews();
    this.receiver.forgetViews();
    for (let i = 0; i < NET_QUEUE_COUNT; i++) {
      const q = this.queues[i]!;
      if (!this.queueEnabled[i]) continue;
      if (memory === null) this.queueEnabled[i] = false;
      else if (!q.activate(memory)) this.queueEnabled[i] = false;
    }
  }

  /** The split queue `index` (0 RX, 1 TX): a transport sets `size` and the ring addresses here. */
  queue(index: number): SplitQueue {
    const q = this.queues[index];
    if (q === undefined) throw new RangeError(`virtio-net has queues 0..${NET_QUEUE_COUNT - 1}, not ${index}`);
    return q;
  }

  get queueCount(): number {
    return NET_QUEUE_COUNT;
  }

  /**
   * Validates the rings of queue `index` against guest memory and enables it (PCI queue_enable,
   * a legacy QUEUE_PFN write, vhost-user ring start). With `usedIdxFromRing` the used index is
   * read back from the ring first (vhost-user SET_VRING_BASE sets only `lastAvailIdx`). Pending
   * chains are processed at once when the device is started. Returns false when the rings are unusable
   * (the queue's error says why, and `queueError` was called).
   */
  startQueue(index: number, options: { usedIdxFromRing?: boolean } = {}): boolean {
    const q = this.queue(index);
    if (this.guestMemory === null) return false;
    q.setFeatures(this.negotiatedFeatures);
    if (!q.activate(this.guestMemory)) {
      this.queueEnabled[index] = false;
      return false;
    }
    // vhost-user: the front-end owns the rings across a stop/start; continue from its used->idx.
    if (options.usedIdxFromRing === true) q.syncUsedIdxFromRing();
    this.queueEnabled[index] = true;
    this.process(index);
    return true;
  }

  /**
   * Stops processing queue `index` and returns its state (vhost-user GET_VRING_BASE). Waits for a
   * transmit pass in progress to finish its current chain.
   */
  stopQueue(index: number): Promise<SplitQueueState> {
    const q = this.queue(index);
    let state: SplitQueueState | undefined;
    return this.whenIdle(() => {
      this.queueEnabled[index] = false;
      if (index === RX_QUEUE) this.setBackendRx(false);
      state = q.saveState();
    }).then(() => state!);
  }

  /** Forgets queue `index` (legacy QUEUE_PFN 0, modern queue_reset). */
  resetQueue(index: number): void {
    const q = this.queue(index);
    this.queueEnabled[index] = false;
    if (index === RX_QUEUE) this.setBackendRx(false);
    q.reset();
  }

  /** True when queue `index` is enabled (started and not stopped or broken). */
  queueStarted(index: number): boolean {
    return this.queueEnabled[index] === true && this.queue(index).usable;
  }

  // ---- features -------------------------------------------------------------------------------

  get negotiated(): bigint {
    return this.negotiatedFeatures;
  }

  get featuresNegotiated(): boolean {
    return this.featuresDone;
  }

  /** The header length the guest uses (10 or 12), valid after negotiation. */
  get guestHeaderLength(): number {
    return this.transmitter.guestHeaderLength;
  }

  /** The header length the backend uses (0, or the guest's), valid after negotiation. */
  get backendHeaderLength(): number {
    return this.transmitter.backendHeaderLength;
  }

  /** Why `features` cannot be accepted, or null (for a transport's FEATURES_OK check). */
  checkFeatures(features: bigint): string | null {
    return featureProblem(this.offeredFeatures, features);
  }

  /**
   * Applies the driver's features: header length (12 with VERSION_1 or MRG_RXBUF, else 10), the
   * backend's offloads and header (bhyve pci_vtnet_neg_features), ring features. Throws
   * VirtioError `ERR_FEATURES` for features not offered, offloads without prerequisites, a
   * backend that refuses, or a call after `start()`.
   */
  negotiate(features: bigint): void {
    if (this.started) throw new VirtioError('ERR_FEATURES', 'features cannot change after the driver started the device (virtio 1.2 §3.1.1)');
    const problem = featureProblem(this.offeredFeatures, features);
    if (problem !== null) throw new VirtioError('ERR_FEATURES', problem);
    const hdr = guestHeaderLength(features);
    const offloads = features & NET_OFFLOAD_FEATURES;
    try {
      this.backend.setCap(offloads, hdr);
    } catch (error) {
      // A backend that carries no header may refuse the length; it then moves raw frames and
      // the device adapts (bhyve), which is only possible without offloads.
      if (offloads !== 0n || !(error instanceof NetbeError) || error.code !== 'ERR_UNSUPPORTED') throw new VirtioError('ERR_FEATURES', `the backend refused the features: ${(error as Error).message}`, { cause: error });
      this.backend.setCap(0n, 0);
    }
    const beHdr = this.backend.vnetHdrLen;
    if (beHdr !== 0 && beHdr !== hdr) throw new VirtioError('ERR_FEATURES', `the backend uses a ${beHdr}-byte header, the guest ${hdr}: they must be equal or the backend's 0`);
    if (beHdr === 0 && offloads !== 0n) throw new VirtioError('ERR_FEATURES', 'the backend reported offloads but carries no virtio-net header');
    this.transmitter.guestHeaderLength = this.receiver.guestHeaderLength = hdr;
    this.transmitter.backendHeaderLength = this.receiver.backendHeaderLength = beHdr;
    this.receiver.mergeable = (features & VIRTIO_NET_F_MRG_RXBUF) !== 0n;
    for (const q of this.queues) q.setFeatures(features);
    // virtio 1.2 §5.1.4.3: the MAC is driver-writable through the legacy interface only.
    this.config.macWritable = (features & F_VERSION_1) === 0n;
    this.negotiatedFeatures = features;
    this.featuresDone = true;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** The driver is ready (DRIVER_OK, or vhost-user rings started): process what is waiting. */
  start(): void {
    if (!this.featuresDone) this.negotiate(0n);
    this.started = true;
    this.process(TX_QUEUE);
    this.process(RX_QUEUE);
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** The last exception a backend verb threw (the device counts it as a drop and carries on). */
  get lastBackendError(): unknown {
    return this.receiver.lastBackendError ?? this.transmitter.lastBackendError;
  }

  /** True while a reset, pause or queue stop waits for a processing pass to end. */
  get settling(): boolean {
    return this.idleActions.length !== 0;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Device reset (virtio 1.2 §2.4; bhyve pci_vtnet_reset): backend RX off, queues and features
   * forgotten, the configured MAC back. When a transmit or receive pass is running (a reset from
   * inside a backend or interrupt callback), it stops after its current frame, publishes what it
   * used, and the reset completes then: the promise resolves when it is done. Never polls.
   */
  reset(): Promise<void> {
    return this.whenIdle(() => {
      this.epoch++;
      this.setBackendRx(false);
      for (let i = 0; i < NET_QUEUE_COUNT; i++) {
        this.queues[i]!.reset();
        this.queueEnabled[i] = false;
      }
      this.negotiatedFeatures = 0n;
      this.featuresDone = false;
      this.started = false;
      this.txContinuationPending = this.rxContinuationPending = false;
      this.config.setMac(this.configuredMac);
      this.config.macWritable = true;
      this.transmitter.guestHeaderLength = this.receiver.guestHeaderLength = 12;
      this.transmitter.backendHeaderLength = this.receiver.backendHeaderLength = 0;
      this.receiver.mergeable = true;
    });
  }

  /** Stops processing (after the pass in progress) until {@link resume}; backend RX is disabled. */
  pause(): Promise<void> {
    return this.whenIdle(() => {
      this.paused = true;
      this.setBackendRx(false);
    });
  }

  /** Processing continues: chains and frames that arrived meanwhile are handled now. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.process(TX_QUEUE);
    this.process(RX_QUEUE);
  }

  // ---- notifications --------------------------------------------------------------------------

  /** A driver notification (kick) for queue `index`. Unknown indices are ignored. */
  kick(index: number): void {
    if (index === RX_QUEUE) this.stats.rx.kicks++;
    else if (index === TX_QUEUE) this.stats.tx.kicks++;
    else return;
    this.process(index);
  }

  // ---- config space ---------------------------------------------------------------------------

  /** Reads device config bytes [offset, offset+out.length) (bytes past the 12 read as 0). */
  readConfig(offset: number, out: Uint8Array): void {
    this.config.read(offset, out);
  }

  /** A driver write to device config: only the MAC, only through the legacy interface. */
  writeConfig(offset: number, data: Uint8Array): void {
    this.config.write(offset, data);
  }

  /** Administrative link state (the link is up when this and the backend's link are up). */
  setLinkUp(up: boolean): void {
    this.adminLinkUp = up;
    this.applyLink();
  }

  get linkUp(): boolean {
    return this.config.linkUp;
  }

  // ---- snapshot -------------------------------------------------------------------------------

  /**
   * The device state as plain JSON: features, config, queue states. Take it while paused (or
   * idle): used entries are all published then and no chain is half-processed. Ring contents live
   * in guest memory, which the VMM saves itself.
   */
  snapshot(): NetDeviceSnapshot {
    if (this.busyDepth !== 0) throw new VirtioError('ERR_STATE', 'snapshot taken while a processing pass is running; pause first');
    return {
      version: 1,
      offeredFeatures: this.offeredFeatures.toString(16),
      negotiatedFeatures: this.negotiatedFeatures.toString(16),
      featuresNegotiated: this.featuresDone,
      started: this.started,
      adminLinkUp: this.adminLinkUp,
      configuredMac: Array.from(this.configuredMac),
      config: this.config.toJSON(),
      queues: this.queues.map((q) => q.saveState()),
      queueEnabled: [...this.queueEnabled],
    };
  }

  /**
   * Restores a {@link snapshot} (parsed JSON is fine) into this device, whose guest memory must
   * already be set. The device is left paused: call {@link resume} to continue traffic. Throws
   * VirtioError `ERR_STATE` for a malformed snapshot and `ERR_FEATURES` when this device (its
   * backend) cannot take the negotiated features.
   */
  restore(snapshot: NetDeviceSnapshot): void {
    if (this.busyDepth !== 0) throw new VirtioError('ERR_STATE', 'restore while a processing pass is running');
    const s = parseSnapshot(snapshot, NET_QUEUE_COUNT);
    this.epoch++;
    this.paused = true;
    this.setBackendRx(false);
    this.started = false;
    this.featuresDone = false;
    this.negotiatedFeatures = 0n;
    if (s.featuresNegotiated) this.negotiate(s.negotiated);
    this.config.restore(s.config);
    this.adminLinkUp = s.adminLinkUp;
    for (let i = 0; i < NET_QUEUE_COUNT; i++) {
      const q = this.queues[i]!;
      const state = s.queues[i]!;
      if (state.ready && this.guestMemory === null) throw new VirtioError('ERR_STATE', 'restore needs guest memory for ready queues: set device.memory first');
      this.queueEnabled[i] = q.restoreState(state, this.guestMemory) && s.queueEnabled[i]!;
    }
    this.started = s.started;
    this.applyLink();
  }

  // ---- internals ------------------------------------------------------------------------------

  private canProcess(index: number): boolean {
    return this.started && !this.paused && this.idleActions.length === 0 && this.queueEnabled[index] === true && this.queues[index]!.usable;
  }

  private process(index: number): void {
    if (index === TX_QUEUE) this.transmit();
    else if (index === RX_QUEUE) {
      if (!this.canProcess(RX_QUEUE) || !this.config.linkUp) return;
      // bhyve ping_rxq: the guest posted buffers; stop its kicks until we run dry.
      this.queues[RX_QUEUE]!.disableNotifications();
      this.setBackendRx(true);
      this.receive();
    }
  }

  /** Drains the TX queue: every available chain, one publish and one interrupt decision. */
  private transmit(): void {
    if (!this.canProcess(TX_QUEUE) || this.transmitter.busy) return;
    const q = this.queues[TX_QUEUE]!;
    const budget = this.batchLimit;
    let total = 0;
    let more = false;
    this.busyDepth++;
    try {
      q.disableNotifications();
      for (;;) {
        total += this.transmitter.drain(q, budget - total);
        if (this.transmitter.stopRequested || !q.usable) break;
        if (total >= budget) {
          more = true;
          break;
        }
        // virtio 1.2 §2.7.10: re-enable kicks, then re-check for chains that raced in.
        if (!q.enableNotifications()) break;
        q.disableNotifications();
      }
      if (total > 0) this.finishBatch(TX_QUEUE, !more && !this.transmitter.stopRequested);
      if (more && !this.txContinuationPending) {
        this.txContinuationPending = true;
        const epoch = this.epoch;
        this.defer(() => {
          this.txContinuationPending = false;
          if (epoch === this.epoch) this.transmit();
        });
      }
    } finally {
      this.leave();
    }
  }

  /** Delivers backend frames to the guest (the backend's rxReady, an RX kick, start/resume). */
  private receive(): void {
    if (this.rxBusy) return; // re-entered: the running pass goes on until the backend is empty
    if (!this.canProcess(RX_QUEUE) || !this.config.linkUp) {
      // Level-triggered readiness would call again and again: stop it until a kick, start or resume.
      this.setBackendRx(false);
      return;
    }
    const q = this.queues[RX_QUEUE]!;
    this.rxBusy = true;
    this.busyDepth++;
    try {
      const usedBefore = q.usedIdx;
      const outcome = this.receiver.run(q, this.batchLimit);
      const used = q.usedIdx !== usedBefore;
      if (outcome === 'unusable') this.setBackendRx(false);
      if (outcome === 'stalled') {
        // No guest buffers: keep the frame in the backend until the guest kicks (backpressure).
        this.setBackendRx(false);
        this.stats.rx.rxStalls++;
      }
      if (used || outcome === 'stalled') this.finishBatch(RX_QUEUE, outcome === 'stalled');
      if (outcome === 'budget' && !this.rxContinuationPending) {
        this.rxContinuationPending = true;
        const epoch = this.epoch;
        this.defer(() => {
          this.rxContinuationPending = false;
          if (epoch === this.epoch) this.receive();
        });
      }
    } finally {
      this.rxBusy = false;
      this.leave();
    }
  }

  /** Publishes used entries once and interrupts if the driver wants it (bhyve vq_endchains). */
  private finishBatch(index: number, usedAllAvail: boolean): void {
    const q = this.queues[index]!;
    const stats = index === RX_QUEUE ? this.stats.rx : this.stats.tx;
    const publishing = q.publishedUsedIdx !== q.usedIdx;
    q.publish();
    if (publishing) stats.batches++;
    if (q.needsInterrupt(usedAllAvail)) {
      stats.interrupts++;
      this.interrupt(index);
    }
  }

  private setBackendRx(on: boolean): void {
    if (on === this.backendRxOn) return;
    this.backendRxOn = on;
    if (on) this.backend.rxEnable();
    else this.backend.rxDisable();
  }

  private setBackendLink(up: boolean): void {
    this.backendLinkUp = up;
    this.applyLink();
  }

  /** Applies admin and backend link state to config status; notifies the driver of a change. */
  private applyLink(): void {
    const up = this.adminLinkUp && this.backendLinkUp;
    this.transmitter.linkUp = up;
    const changed = this.config.setLinkUp(up);
    if (!up) this.setBackendRx(false);
    if (changed && this.started && this.featuresDone) {
      this.stats.configChanges++;
      this.configChanged();
    }
    if (up && changed) this.process(RX_QUEUE);
  }

  /**
   * Runs `action` now when no processing pass is running; otherwise asks the running passes to
   * stop after their current frame and runs it when the outermost one returns.
   */
  private whenIdle(action: () => void): Promise<void> {
    if (this.busyDepth === 0) {
      try {
        action();
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.transmitter.stopRequested = true;
    this.receiver.stopRequested = true;
    return new Promise((resolve, reject) => this.idleActions.push({ run: action, resolve, reject }));
  }

  private leave(): void {
    this.busyDepth--;
    if (this.busyDepth !== 0 || this.idleActions.length === 0) return;
    this.transmitter.stopRequested = false;
    this.receiver.stopRequested = false;
    const actions = this.idleActions.splice(0);
    for (const a of actions) {
      try {
        a.run();
        a.resolve();
      } catch (error) {
        a.reject(error);
      }
    }
    // A pass stopped early for the action may have left chains behind with kicks suppressed
    // (a queue stop or pause of the other queue): pick them up now.
    if (this.canProcess(TX_QUEUE)) this.transmit();
    if (this.backendRxOn && this.canProcess(RX_QUEUE)) this.receive();
  }
}
