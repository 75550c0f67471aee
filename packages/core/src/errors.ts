/** Stable error codes: match on `code`, never on the message. */
export type NetbeErrorCode =
  | 'ERR_CONFIG' // a config string or option is wrong (see ConfigError.option)
  | 'ERR_UNKNOWN_BACKEND' // no registered prefix matches
  | 'ERR_UNSUPPORTED' // the backend cannot do what was asked (header length, offload, feature)
  | 'ERR_UNAVAILABLE' // the machine lacks what the backend needs (/dev/net/tun, /dev/netmap…)
  | 'ERR_CLOSED' // the backend was closed while the work was in flight
  | 'ERR_IO'; // an operating-system call failed (see `errno`)

export class NetbeError extends Error {
  readonly code: NetbeErrorCode;
  /** The errno name (`ENOENT`, `EPERM`…) when an operating-system call failed. */
  readonly errno?: string;

  constructor(code: NetbeErrorCode, message: string, options?: { cause?: unknown; errno?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NetbeError';
    this.code = code;
    if (options?.errno !== undefined) this.errno = options.errno;
  }
}

/** A bad config string or option: names the option and the reason. */
export class ConfigError extends NetbeError {
  /** The option at fault (`mac`, `mtu`, `ifname`…), or `backend` for the spec itself. */
  readonly option: string;
  readonly reason: string;

  constructor(option: string, reason: string) {
    super('ERR_CONFIG', `${option}: ${reason}`);
    this.name = 'ConfigError';
    this.option = option;
    this.reason = reason;
  }
}
