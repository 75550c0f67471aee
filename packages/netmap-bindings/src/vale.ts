import { NR_REG_ALL_NIC } from './abi';
import type { NetmapPortInfo } from './port';
import { withControlFd } from './port';

/** Options for a persistent VALE port (NETMAP_REQ_VALE_NEWIF); 0 means the kernel default. */
export interface ValePortOptions {
  txSlots?: number;
  rxSlots?: number;
  txRings?: number;
  rxRings?: number;
  memId?: number;
}

/** Creates a persistent VALE port (`valeX:name` is then attached with {@link valeAttach}); returns its memId. */
export function valeCreatePort(name: string, options: ValePortOptions = {}): number {
  return withControlFd((n, fd) =>
    n.valeNewIf(fd, name, options.txSlots ?? 0, options.rxSlots ?? 0, options.txRings ?? 0, options.rxRings ?? 0, options.memId ?? 0),
  );
}

/** Deletes a persistent VALE port (NETMAP_REQ_VALE_DELIF). */
export function valeDeletePort(name: string): void {
  withControlFd((n, fd) => n.valeDelIf(fd, name));
}

/** Attaches a port (NIC or persistent VALE port) to a switch: `valeX:ifname`. Returns its index. */
export function valeAttach(name: string, mode = NR_REG_ALL_NIC): number {
  return withControlFd((n, fd) => n.valeAttach(fd, name, mode));
}

/** Detaches `valeX:ifname` from its switch. Returns the index it had. */
export function valeDetach(name: string): number {
  return withControlFd((n, fd) => n.valeDetach(fd, name));
}

/** Every port of every VALE switch (NETMAP_REQ_VALE_LIST), in switch order. */
export function valeList(): Array<{ name: string; bridgeIdx: number; portIdx: number }> {
  return withControlFd((n, fd) => {
    const out: Array<{ name: string; bridgeIdx: number; portIdx: number }> = [];
    let bridgeIdx = 0;
    let portIdx = 0;
    // Bounded: the kernel has at most 64 switches of 254 ports (NM_BRIDGES, NM_BDG_MAXPORTS).
    for (let i = 0; i < 64 * 256; i++) {
      const entry = n.valeList(fd, '', bridgeIdx, portIdx);
      if (!entry) break;
      out.push(entry);
      bridgeIdx = entry.bridgeIdx;
      portIdx = entry.portIdx + 1;
    }
    return out;
  });
}

/** NETMAP_REQ_PORT_INFO_GET without registering. */
export function portInfo(name: string): NetmapPortInfo {
  return withControlFd((n, fd) => {
    const { offset: _offset, legacy: _legacy, ...info } = n.portInfo(fd, name);
    return info;
  });
}
