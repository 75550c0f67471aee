import type { Ipv4Address } from '@netbe/wire';
import type { SlirpHost } from '../../src/core';

export type HostCall =
  | { op: 'udpOpen'; handle: number; addr: Ipv4Address; port: number }
  | { op: 'udpSend'; handle: number; addr: Ipv4Address; port: number; data: Uint8Array }
  | { op: 'udpClose'; handle: number }
  | { op: 'tcpConnect'; handle: number; addr: Ipv4Address; port: number }
  | { op: 'tcpListen'; handle: number; addr: Ipv4Address; port: number }
  | { op: 'tcpWrite'; handle: number; data: Uint8Array }
  | { op: 'tcpShutdown'; handle: number }
  | { op: 'tcpClose'; handle: number; reset: boolean }
  | { op: 'tcpPause'; handle: number; paused: boolean }
  | { op: 'icmpSend'; addr: Ipv4Address; data: Uint8Array };

/** A host that records every request; the test plays the host's answers back into the stack. */
export class FakeHost implements SlirpHost {
  readonly calls: HostCall[] = [];
  readonly logs: string[] = [];
  icmpAvailable = true;
  icmpUnavailableReason = 'fake host without ICMP';
  /** What tcpWrite reports as buffered (tests raise it to close the window). */
  buffered = 0;

  udpOpen(handle: number, addr: Ipv4Address, port: number): void {
    this.calls.push({ op: 'udpOpen', handle, addr, port });
  }
  udpSend(handle: number, addr: Ipv4Address, port: number, data: Uint8Array): void {
    this.calls.push({ op: 'udpSend', handle, addr, port, data });
  }
  udpClose(handle: number): void {
    this.calls.push({ op: 'udpClose', handle });
  }
  tcpConnect(handle: number, addr: Ipv4Address, port: number): void {
    this.calls.push({ op: 'tcpConnect', handle, addr, port });
  }
  tcpListen(handle: number, addr: Ipv4Address, port: number): void {
    this.calls.push({ op: 'tcpListen', handle, addr, port });
  }
  tcpWrite(handle: number, data: Uint8Array): number {
    this.calls.push({ op: 'tcpWrite', handle, data: data.slice() }); // the bytes are only lent for the call
    return this.buffered;
  }
  tcpShutdown(handle: number): void {
    this.calls.push({ op: 'tcpShutdown', handle });
  }
  tcpClose(handle: number, reset: boolean): void {
    this.calls.push({ op: 'tcpClose', handle, reset });
  }
  tcpPause(handle: number, paused: boolean): void {
    this.calls.push({ op: 'tcpPause', handle, paused });
  }
  icmpSend(addr: Ipv4Address, data: Uint8Array): void {
    this.calls.push({ op: 'icmpSend', addr, data });
  }
  log(level: string, message: string): void {
    this.logs.push(`${level}: ${message}`);
  }

  /** Removes and returns the calls of one kind. */
  take<K extends HostCall['op']>(op: K): Array<Extract<HostCall, { op: K }>> {
    const out = this.calls.filter((c) => c.op === op) as Array<Extract<HostCall, { op: K }>>;
    for (let i = this.calls.length - 1; i >= 0; i--) if (this.calls[i]!.op === op) this.calls.splice(i, 1);
    return out;
  }
}
