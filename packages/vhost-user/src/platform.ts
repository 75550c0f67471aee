/**
 * The operating-system services the back-end needs and Node lacks: shared mappings of the
 * front-end's memory fds, eventfds, and fd readiness. `sys-platform.ts` provides them through
 * @netbe/sys; keeping them behind this interface keeps the protocol logic readable and testable.
 */

/** A shared, writable mapping of a file descriptor's first `length` bytes. */
export interface MappedMemory {
  readonly bytes: Uint8Array;
  /** Releases the mapping. Views of `bytes` must not be used afterwards. */
  unmap(): void;
}

export interface FdWatch {
  stop(): void;
}

export interface VhostUserPlatform {
  /** Size of the file behind `fd` (fstat), to refuse mappings beyond its end (SIGBUS). */
  fileSize(fd: number): number;
  /** The page size: mapping offsets must be multiples of it. */
  readonly pageSize: number;
  /** mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, offset); offset page-aligned. */
  mapShared(fd: number, offset: number, length: number): MappedMemory;
  /** Makes a received fd non-blocking (a blocking eventfd could stall the whole process). */
  setNonBlocking(fd: number): void;
  close(fd: number): void;
  /**
   * Calls `onReadable` (level-triggered) while `fd` is readable, until stopped; `onError` when
   * polling the fd fails (the watch is then stopped).
   */
  watchReadable(fd: number, onReadable: () => void, onError: (error: Error) => void): FdWatch;
  /** Reads an eventfd's counter (clearing it); false when it was zero (EAGAIN). */
  drainEventfd(fd: number): boolean;
  /** Adds 1 to an eventfd's counter: a kick or an interrupt. */
  signalEventfd(fd: number): void;
  /** A new eventfd (the front-end test double makes kick/call fds with it). */
  createEventfd(): number;
}
