/**
 * "Soon, not now": the next turn of the event loop, after I/O (setImmediate where the runtime
 * has it, a zero timeout elsewhere). Returns a function that cancels the call.
 */
type Handle = unknown;
const host = globalThis as {
  setImmediate?: (fn: () => void) => Handle;
  clearImmediate?: (handle: Handle) => void;
};

export function scheduleSoon(fn: () => void): () => void {
  if (host.setImmediate && host.clearImmediate) {
    const handle = host.setImmediate(fn);
    const clear = host.clearImmediate;
    return () => clear(handle);
  }
  const timer = setTimeout(fn, 0);
  return () => clearTimeout(timer);
}
