/**
 * Errors raised by the bindings. A failed system call keeps the addon's `code` (the errno name),
 * `errno` and `syscall`; a machine without netmap raises {@link NetmapUnavailableError}.
 */
export class NetmapUnavailableError extends Error {
  readonly code = 'ERR_NETMAP_UNAVAILABLE';

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`netmap not available: ${reason}`, options);
    this.name = 'NetmapUnavailableError';
  }
}

/** The errno name a failed addon call carried, if any. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}
