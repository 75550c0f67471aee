import type { BackendListener, NetBackend } from '@netbe/core';
export { concatBytes as concat, splitAt as split } from '@netbe/conformance';

/** A frame of `len` bytes whose content depends on `seed` (byte i = seed + i). */
export function frame(len: number, seed = 0): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (seed + i) & 0xff;
  return f;
}

/** Receives the next frame into a fresh buffer of exactly peekRecvLen bytes. */
export function recvOne(be: NetBackend): Uint8Array | undefined {
  const len = be.peekRecvLen();
  if (len === 0) return undefined;
  const buf = new Uint8Array(len);
  const n = be.recv([buf], 1);
  if (n !== len) throw new Error(`recv returned ${n}, peekRecvLen said ${len}`);
  return buf;
}

/** A listener that counts rxReady calls and can run a hook inside each. */
export class CountingListener implements BackendListener {
  calls = 0;
  links: boolean[] = [];
  onReady: (() => void) | undefined;
  rxReady(): void {
    this.calls++;
    this.onReady?.();
  }
  linkChange(up: boolean): void {
    this.links.push(up);
  }
}

/** Lets scheduled callbacks run (a few event-loop turns). */
export async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}
