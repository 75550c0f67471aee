/**
 * A full (sequentially consistent) memory fence, as far as JavaScript allows: it has no fence
 * primitive, so this is an atomic read-modify-write on a private cell. On x86 that is a locked
 * instruction, a full barrier. On arm64 V8 emits an acquire/release exclusive pair, which does
 * not order unrelated plain accesses: there it is best-effort. Used where virtio 1.2 §2.7.7.2 /
 * §2.7.10 ask for a full barrier: between publishing used->idx and reading used_event /
 * avail->flags, and between re-enabling notifications and re-reading avail->idx.
 */
const cell = new Int32Array(typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(4) : new ArrayBuffer(4));

export function fullFence(): void {
  Atomics.add(cell, 0, 0);
}
