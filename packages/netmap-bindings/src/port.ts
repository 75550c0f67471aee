import { NETMAP_DEVICE, NR_REG_ALL_NIC } from './abi';
import { sys, type Watcher } from '@netbe/sys';
import { nativeNetmap, type NativeNetmap, type NativePortInfo } from './binding';
import { errnoOf, NetmapUnavailableError } from './errors';
import { MappingCache } from './mappings';

/** What to register: the request name (nmreq_header.nr_name), the NR_REG_* mode and ring. */
export interface NetmapRegistration {
  /** `eth0`, `vale0:vm1`: the name as the kernel wants it (no `netmap:` prefix). */
  name: string;
  /** NR_REG_ALL_NIC (default), NR_REG_ONE_NIC, NR_REG_SW, NR_REG_NIC_SW… */
  mode?: number;
  /** The ring pair for NR_REG_ONE_NIC / NR_REG_ONE_SW. */
  ringId?: number;
  /** A memory allocator to ask for; 0 lets the kernel choose. */
  memId?: number;
}

/** The port's geometry as the kernel reported it at registration. */
export type NetmapPortInfo = Omit<NativePortInfo, 'offset' | 'legacy'>;

/**
 * A registered netmap port: its shared region and the system calls that move rings. The ring
 * contents are read and written by the caller (in the region, at `nifpOffset`). The real port
 * and the in-process test double both implement this.
 */
export interface NetmapPort {
  readonly name: string;
  readonly mode: number;
  readonly ringId: number;
  readonly info: Readonly<NetmapPortInfo>;
  /** The mapped region of the port's memory allocator (shared by every port of that allocator). */
  readonly memory: ArrayBuffer;
  /** Offset of the port's netmap_if in {@link memory}. */
  readonly nifpOffset: number;
  /** NIOCTXSYNC: publish [hwcur, head) of the bound TX rings, reclaim completed slots. */
  txSync(): void;
  /** NIOCRXSYNC: release [hwcur, head) of the bound RX rings, learn new tail. */
  rxSync(): void;
  /** NETMAP_REQ_PORT_HDR_SET: the virtio-net header length the port carries (0, 10, 12). */
  setHeaderLength(len: number): void;
  /** NETMAP_REQ_PORT_HDR_GET. */
  getHeaderLength(): number;
  /**
   * Level-triggered readability: while a callback is set, it runs (from the event loop) whenever
   * the port has received frames; `null` stops watching.
   */
  watchReadable(callback: (() => void) | null): void;
  /** Stops watching, closes the fd, releases the region (once its last port closes). Idempotent. */
  close(): void;
}

/** Opens ports: the real one is {@link netmapSystem}; tests use a double with the same shape. */
export interface NetmapSystem {
  openPort(registration: NetmapRegistration): NetmapPort;
}

/** One mapping per memory allocator (netmap's nr_mem_id), shared by the ports that use it. */
const mappings = new MappingCache();

/** Opens the control device, turning its absence into the one clear message. */
function openDevice(native: NativeNetmap, path: string): number {
  try {
    return native.open(path);
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'ENOENT' || errno === 'ENXIO' || errno === 'ENODEV') throw new NetmapUnavailableError(`${path} missing`, { cause: e });
    throw e;
  }
}

class KernelPort implements NetmapPort {
  readonly memory: ArrayBuffer;
  readonly nifpOffset: number;
  readonly info: NetmapPortInfo;
  private watcher: Watcher | undefined;
  private callback: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly native: NativeNetmap,
    private readonly fd: number,
    readonly name: string,
    readonly mode: number,
    readonly ringId: number,
  ) {
    const r = native.register(fd, name, mode, ringId, 0);
    const { offset: _offset, legacy: _legacy, ...info } = r;
    this.info = info;
    this.nifpOffset = r.offset;
    this.memory = mappings.acquire(r.memId, r.memsize, () => native.mmap(fd, r.memsize));
  }

  txSync(): void {
    if (!this.closed) this.native.txSync(this.fd);
  }

  rxSync(): void {
    if (!this.closed) this.native.rxSync(this.fd);
  }

  setHeaderLength(len: number): void {
    this.native.setHeaderLength(this.fd, this.name, len);
  }

  getHeaderLength(): number {
    return this.native.getHeaderLength(this.fd, this.name);
  }

  watchReadable(callback: (() => void) | null): void {
    if (this.closed) return;
    this.callback = callback;
    // The same level-triggered uv_poll watcher as the tap backend (@netbe/sys). On POLLERR
    // libuv stops it; the callback still runs so the caller's next sync reports the failure.
    if (callback) {
      this.watcher ??= sys.watcherCreate(this.fd, () => this.callback?.());
      sys.watcherStart(this.watcher, sys.READABLE);
    } else if (this.watcher) {
      sys.watcherStop(this.watcher);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.callback = null;
    if (this.watcher) sys.watcherClose(this.watcher);
    this.native.close(this.fd);
    mappings.release(this.info.memId, this.memory, (memory) => this.native.unmap(memory));
  }
}

/** The kernel: ports on /dev/netmap. `devicePath` is for tests of the unavailable path. */
export function kernelNetmap(devicePath = NETMAP_DEVICE): NetmapSystem {
  return {
    openPort(registration: NetmapRegistration): NetmapPort {
      const native = loadNative();
      const fd = openDevice(native, devicePath);
      try {
        return new KernelPort(native, fd, registration.name, registration.mode ?? NR_REG_ALL_NIC, registration.ringId ?? 0);
      } catch (e) {
        native.close(fd);
        throw e;
      }
    },
  };
}

/** The default system: /dev/netmap. */
export const netmapSystem: NetmapSystem = kernelNetmap();

function loadNative(): NativeNetmap {
  try {
    return nativeNetmap();
  } catch (e) {
    throw new NetmapUnavailableError((e as Error).message, { cause: e });
  }
}

/** Runs `work` with a control fd (not bound to a port), closing it afterwards. */
export function withControlFd<T>(work: (native: NativeNetmap, fd: number) => T, devicePath = NETMAP_DEVICE): T {
  const native = loadNative();
  const fd = openDevice(native, devicePath);
  try {
    return work(native, fd);
  } finally {
    native.close(fd);
  }
}
