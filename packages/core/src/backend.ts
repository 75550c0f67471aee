/**
 * The netbe contract: the verbs every backend implements. It mirrors FreeBSD bhyve's
 * `net_backends.h` (peek_recvlen, recv, send, recv_enable/disable, get_cap/set_cap,
 * get_vnet_hdr_len, cleanup) with names in TypeScript style.
 *
 * Threading model: everything runs on one event loop. A backend never calls the device
 * re-entrantly from inside one of these verbs, except `rxReady` as documented below.
 */

/**
 * A scatter-gather list: views into guest memory (or any bytes). Only the first `iovcnt`
 * entries count; the array itself is reused by the caller from frame to frame, so a backend must
 * not keep a reference to it (or to the views) after the call returns.
 */
export type Iov = readonly Uint8Array[];

/** What a backend tells whoever drives it (the device, a patch cable, the conformance kit). */
export interface BackendListener {
  /**
   * Level-triggered readiness: at least one frame can be received. Called only while RX is
   * enabled (see {@link NetBackend.rxDisable}); it may be called again while frames remain.
   * The listener drains with peekRecvLen/recv and calls rxDisable when it has no room.
   */
  rxReady(): void;
  /** The backend's link went up or down (interface deleted, peer gone, file ended…). */
  linkChange?(up: boolean): void;
}

/** Counters every backend keeps (monotonic; bigint-free so they are cheap to bump). */
export interface BackendStats {
  txFrames: number;
  txBytes: number;
  /** Frames handed to `send` that could not be sent (full queue, error, too big…). */
  txDrops: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames the backend had to drop on the receive side (iov too small, discard, overflow…). */
  rxDrops: number;
}

export interface NetBackend {
  /** The config string (or name) this backend was created from, for logs and `netbe backends`. */
  readonly name: string;

  /** Registers the single listener (the device). Replaces any previous one. RX starts disabled. */
  attach(listener: BackendListener): void;

  /**
   * Transmits one frame gathered from `iov[0..iovcnt)`. When {@link vnetHdrLen} is non-zero the
   * frame starts with a virtio-net header of that length. Returns the bytes consumed; a frame
   * that cannot be sent is counted in `txDrops` and dropped (returns 0), never queued without
   * bound. Never throws for a transient condition.
   */
  send(iov: Iov, iovcnt: number): number;

  /**
   * Length of the next frame, including the backend's own vnet header, or 0 when none is
   * waiting. Does not consume the frame.
   */
  peekRecvLen(): number;

  /**
   * Scatters the next frame into `iov[0..iovcnt)` and returns its length (header included), or
   * 0 when no frame is waiting. When the frame is longer than the iov, the frame is dropped,
   * counted in `rxDrops`, and -1 is returned (bhyve returns -ENOSPC); the caller can avoid that
   * by checking {@link peekRecvLen} first.
   */
  recv(iov: Iov, iovcnt: number): number;

  /** Drops the next frame, if any, counting it in `rxDrops`. Returns its length, or 0. */
  rxDiscard(): number;

  /** Allows `rxReady` callbacks; calls it soon (not synchronously) if a frame is waiting. */
  rxEnable(): void;

  /** After this returns, `rxReady` is not called again until {@link rxEnable}. */
  rxDisable(): void;

  /** The virtio-net offload feature bits (`VIRTIO_NET_F_*`) this backend can carry. */
  getCap(): bigint;

  /**
   * Tells the backend which of its caps the guest negotiated and the header length the
   * device uses (0, 10 or 12). The backend records the header length it will itself use, which
   * is either 0 (the device adapts) or `vnetHdrLen`. Throws {@link NetbeError} with code
   * `ERR_UNSUPPORTED` for a length it cannot do or features outside {@link getCap}.
   */
  setCap(features: bigint, vnetHdrLen: number): void;

  /** The virtio-net header length this backend produces and consumes: 0, or what setCap set. */
  readonly vnetHdrLen: number;

  /** Counters, read at any time. */
  readonly stats: Readonly<BackendStats>;

  /**
   * Releases every fd, timer and socket. Idempotent. Work in flight ends with a
   * {@link NetbeError} of code `ERR_CLOSED`; every verb after close is a no-op that returns 0.
   */
  close(): Promise<void>;
}
