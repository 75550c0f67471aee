/**
 * A full (sequentially consistent) memory fence. JavaScript has no fence primitive, but an
 * atomic read-modify-write compiles to a locked instruction (x86) or a barrier-bracketed
 * exclusive pair (arm64), which orders every earlier store before every later load. Needed where
 * virtio 1.2 §2.7.7.2 / §2.7.10 ask for a full barrier: between publishing used->idx and reading
 * used_event / avail->flags, and between re-enabling notifications and re-reading avail->idx.
 * Exact on x86 (a locked instruction); on arm64 it orders only the cell itself.
 */
const cell = new Int32Array(typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(4) : new ArrayBuffer(4));

export function fullFence(): void {
  Atomics.add(cell, 0, 0);
}
