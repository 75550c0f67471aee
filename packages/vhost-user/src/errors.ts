/** Stable codes for what goes wrong on a vhost-user connection. */
export type VhostUserErrorCode =
  /** A message broke the protocol: size, fds, values, order (the connection is closed). */
  | 'ERR_PROTOCOL'
  /** A request this back-end does not implement (the connection is closed). */
  | 'ERR_UNSUPPORTED_REQUEST'
  /** Memory table or ring addresses that do not fit (the connection is closed). */
  | 'ERR_MEMORY'
  /** An operating-system call failed (mmap, eventfd write, socket). */
  | 'ERR_IO';

export class VhostUserError extends Error {
  readonly code: VhostUserErrorCode;

  constructor(code: VhostUserErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VhostUserError';
    this.code = code;
  }
}
