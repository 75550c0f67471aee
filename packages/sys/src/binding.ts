import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** An operating-system failure: `code` is the errno name, `errno` the (positive) errno number. */
export interface SysError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

/** The result of {@link SysBinding.recvmsg}. */
export interface RecvmsgResult {
  /** Bytes received; 0 means the peer closed the connection. */
  bytes: number;
  /** File descriptors received (close-on-exec), at most `maxFds`. The caller owns them. */
  fds: number[];
  /** Descriptors received beyond `maxFds`, closed by the call. */
  fdsDropped: number;
  /** MSG_CTRUNC: the kernel dropped descriptors (more than 253 in one message). */
  controlTruncated: boolean;
  /** MSG_TRUNC: a datagram was longer than the buffer (seqpacket/dgram only). */
  dataTruncated: boolean;
}

export interface FileStat {
  size: number;
  mode: number;
  ino: number;
  dev: number;
  nlink: number;
  uid: number;
  gid: number;
}

/** A readiness watcher handle (opaque). */
export interface Watcher {
  readonly __netbeWatcher?: never;
}

export type WatcherCallback = (error: SysError | null, events: number) => void;

/**
 * The native functions. Numbers are fds; "would block" returns -1 (or null, false) and never
 * throws; a bad argument throws TypeError; a failed syscall throws {@link SysError}.
 */
export interface SysBinding {
  // io.c
  close(fd: number): void;
  read(fd: number, buffer: Uint8Array, offset?: number, length?: number): number;
  write(fd: number, buffer: Uint8Array, offset?: number, length?: number): number;
  readv(fd: number, buffers: readonly Uint8Array[], count?: number): number;
  writev(fd: number, buffers: readonly Uint8Array[], count?: number): number;
  setNonBlocking(fd: number, nonBlocking?: boolean): void;
  readonly IOV_MAX: number;

  // tap.c
  tapOpen(options?: { name?: string; vnetHdr?: boolean; multiQueue?: boolean; device?: string }): { fd: number; name: string };
  tapSetVnetHdrSize(fd: number, bytes: number): void;
  tapGetVnetHdrSize(fd: number): number;
  tapSetOffload(fd: number, tunFlags: number): void;
  tapGetFeatures(fd: number): number;
  tapGetIff(fd: number): { name: string; flags: number };
  readonly IFF_TAP: number;
  readonly IFF_NO_PI: number;
  readonly IFF_VNET_HDR: number;
  readonly IFF_MULTI_QUEUE: number;
  readonly TUN_F_CSUM: number;
  readonly TUN_F_TSO4: number;
  readonly TUN_F_TSO6: number;
  readonly TUN_F_TSO_ECN: number;
  readonly TUN_F_UFO: number;
  readonly TUN_F_USO4: number;
  readonly TUN_F_USO6: number;
  readonly IFNAMSIZ: number;

  // link.c
  linkGetFlags(name: string): number;
  linkSetUp(name: string, up?: boolean): void;
  linkGetMtu(name: string): number;
  linkSetMtu(name: string, mtu: number): void;
  linkIndex(name: string): number;
  readonly IFF_UP: number;
  readonly IFF_RUNNING: number;

  // watcher.c
  watcherCreate(fd: number, callback: WatcherCallback): Watcher;
  watcherStart(watcher: Watcher, events: number): void;
  watcherStop(watcher: Watcher): void;
  watcherClose(watcher: Watcher): void;
  readonly READABLE: number;
  readonly WRITABLE: number;
  readonly DISCONNECT: number;

  // unix.c
  unixListen(path: string, backlog?: number): number;
  unixAccept(fd: number): number;
  unixConnect(path: string, nonBlocking?: boolean): number;
  socketpair(type?: 'stream' | 'seqpacket' | 'dgram', nonBlocking?: boolean): [number, number];
  recvmsg(fd: number, buffer: Uint8Array, maxFds?: number): RecvmsgResult | null;
  sendmsg(fd: number, data: Uint8Array | readonly Uint8Array[], fds?: readonly number[]): number;
  readonly SCM_MAX_FDS: number;

  // mem.c
  memfdCreate(name: string, options?: { allowSealing?: boolean }): number;
  ftruncate(fd: number, size: number): void;
  fstat(fd: number): FileStat;
  mmap(fd: number, offset: number, length: number, options?: { write?: boolean; shared?: boolean }): ArrayBuffer;
  munmap(buffer: ArrayBuffer): boolean;
  readonly PAGE_SIZE: number;

  // eventfd.c
  eventfdCreate(initval?: number, options?: { semaphore?: boolean }): number;
  eventfdRead(fd: number): number;
  eventfdWrite(fd: number, value?: number): boolean;

  // packet.c
  packetOpen(ifname: string, options?: { receive?: boolean }): number;

  // icmp.c (ICMP datagram "ping" sockets; IPv4 addresses as uint32 in host order)
  icmpOpen(options?: { ident?: number; ttl?: number; recvErr?: boolean }): number;
  icmpIdent(fd: number): number;
  icmpSetTtl(fd: number, ttl: number): void;
  icmpSendTo(fd: number, addr: number, message: Uint8Array): number;
  icmpRecvFrom(fd: number, buf: Uint8Array): IcmpRecvResult | null;
  icmpRecvError(fd: number, buf: Uint8Array): IcmpErrorResult | null;
  readonly SO_EE_ORIGIN_LOCAL: number;
  readonly SO_EE_ORIGIN_ICMP: number;
}

/** One datagram from an ICMP socket: the ICMP message (no IP header) and who sent it. */
export interface IcmpRecvResult {
  length: number;
  /** IPv4 source, uint32 host order. */
  address: number;
  /** The message was longer than the buffer (the rest is lost). */
  truncated: boolean;
}

/** One entry of an ICMP socket's error queue (IP_RECVERR, `struct sock_extended_err`). */
export interface IcmpErrorResult extends IcmpRecvResult {
  /** `length`: bytes of the message the error is about (its ICMP header and data) written to
   * the buffer; `address`: where that message was sent. */
  /** SO_EE_ORIGIN_ICMP (2) for an ICMP error received, SO_EE_ORIGIN_LOCAL (1) for a local one. */
  origin: number;
  /** ICMP type and code of the error (e.g. 3/3 port unreachable, 11/0 TTL exceeded). */
  type: number;
  code: number;
  /** ee_info: the next-hop MTU for "fragmentation needed". */
  info: number;
  /** The errno the kernel maps it to (e.g. ECONNREFUSED, EHOSTUNREACH). */
  errno: number;
  /** Who reported it (uint32 host order; 0 when unknown). */
  offender: number;
}

function load(): SysBinding {
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  // src/ and dist/ both sit one level below the package root, where binding.gyp lives.
  const root = fileURLToPath(new URL('..', import.meta.url));
  return nodeGypBuild(root) as SysBinding;
}

/** The loaded addon. */
export const sys: SysBinding = load();

/** True when `e` is an operating-system error from this addon (optionally with that errno name). */
export function isSysError(e: unknown, code?: string): e is SysError {
  if (!(e instanceof Error)) return false;
  const err = e as Partial<SysError>;
  if (typeof err.code !== 'string' || typeof err.errno !== 'number') return false;
  return code === undefined || err.code === code;
}
