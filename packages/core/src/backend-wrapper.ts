import type { BackendListener, BackendStats, Iov, NetBackend } from './backend';

/**
 * A backend that forwards every verb to `inner`. Wrappers are backends too (a capture tee, a
 * fault injector, a rate limiter): extend this and override only the verbs you change; the
 * result passes the same conformance suite as what it wraps.
 */
export class BackendWrapper implements NetBackend {
  constructor(readonly inner: NetBackend) {}

  get name(): string {
    return this.inner.name;
  }
  get vnetHdrLen(): number {
    return this.inner.vnetHdrLen;
  }
  get stats(): Readonly<BackendStats> {
    return this.inner.stats;
  }
  attach(listener: BackendListener): void {
    this.inner.attach(listener);
  }
  send(iov: Iov, iovcnt: number): number {
    return this.inner.send(iov, iovcnt);
  }
  peekRecvLen(): number {
    return this.inner.peekRecvLen();
  }
  recv(iov: Iov, iovcnt: number): number {
    return this.inner.recv(iov, iovcnt);
  }
  rxDiscard(): number {
    return this.inner.rxDiscard();
  }
  rxEnable(): void {
    this.inner.rxEnable();
  }
  rxDisable(): void {
    this.inner.rxDisable();
  }
  getCap(): bigint {
    return this.inner.getCap();
  }
  setCap(features: bigint, vnetHdrLen: number): void {
    this.inner.setCap(features, vnetHdrLen);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
