import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Port geometry returned by register and portInfo (nmreq_register / nmreq_port_info_get). */
export interface NativePortInfo {
  /** Offset of the port's netmap_if in the shared region (0 from portInfo). */
  offset: number;
  memsize: number;
  txSlots: number;
  rxSlots: number;
  txRings: number;
  rxRings: number;
  hostTxRings: number;
  hostRxRings: number;
  memId: number;
  /** True when the kernel only spoke the legacy NIOCREGIF. */
  legacy: boolean;
}

/** The addon's functions (src/native/binding.c). Each throws Error{code,errno,syscall} on failure. */
export interface NativeNetmap {
  open(path?: string): number;
  close(fd: number): void;
  register(fd: number, name: string, mode: number, ringId: number, memId: number): NativePortInfo;
  portInfo(fd: number, name: string): NativePortInfo;
  setHeaderLength(fd: number, name: string, len: number): void;
  getHeaderLength(fd: number, name: string): number;
  valeNewIf(fd: number, name: string, txSlots: number, rxSlots: number, txRings: number, rxRings: number, memId: number): number;
  valeDelIf(fd: number, name: string): void;
  valeAttach(fd: number, name: string, mode: number): number;
  valeDetach(fd: number, name: string): number;
  valeList(fd: number, name: string, bridgeIdx: number, portIdx: number): { name: string; bridgeIdx: number; portIdx: number } | null;
  txSync(fd: number): void;
  rxSync(fd: number): void;
  mmap(fd: number, size: number): ArrayBuffer;
  unmap(buffer: ArrayBuffer): void;
  abi(): Record<string, number>;
}

let loaded: NativeNetmap | undefined;
let loadError: Error | undefined;

/**
 * The addon, built by `npm install` (node-gyp-build). Loaded on first use so that importing this
 * package never fails; a missing build surfaces as an error at open time.
 */
export function nativeNetmap(): NativeNetmap {
  if (loaded) return loaded;
  if (loadError) throw loadError;
  try {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (dir: string) => NativeNetmap;
    loaded = load(join(dirname(fileURLToPath(import.meta.url)), '..'));
    return loaded;
  } catch (e) {
    loadError = new Error(`netmap-bindings: the native addon is not built (run npm install): ${(e as Error).message}`, { cause: e });
    throw loadError;
  }
}
