/** "Soon, not now": the next turn of the event loop, after I/O. Returns a canceller. */
export function scheduleSoon(fn: () => void): () => void {
  const handle = setImmediate(fn);
  return () => clearImmediate(handle);
}
