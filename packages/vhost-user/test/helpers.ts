import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetBackend } from '@netbe/core';
import { createMemoryPair } from '@netbe/backend-memory';
import { VirtioNetDevice } from '@netbe/virtio-net';
import { VhostUserNetDevice, VhostUserServer, sysPlatform, type VhostUserPlatform } from '../src/index';
import { VhostUserFrontend, type VhostUserFrontendOptions } from '../src/testing/index';

/** A server with a virtio-net device on one end of a memory pair; the test holds the other end. */
export interface Rig {
  dir: string;
  socketPath: string;
  server: VhostUserServer;
  device: VhostUserNetDevice;
  net: VirtioNetDevice;
  /** The host side of the wire: what the guest sends arrives here. */
  wire: NetBackend;
  logs: string[];
  close(): Promise<void>;
}

export async function makeRig(o: { mac?: string; platform?: VhostUserPlatform } = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'netbe-vu-'));
  const socketPath = join(dir, 'vu.sock');
  const [guestSide, wire] = createMemoryPair();
  const net = new VirtioNetDevice({ backend: guestSide, mac: o.mac ?? '52:54:00:12:34:56', queueSize: 256 });
  const device = new VhostUserNetDevice(net);
  const logs: string[] = [];
  const server = VhostUserServer.listen({ socketPath, device, log: (l) => logs.push(l), platform: o.platform });
  return {
    dir,
    socketPath,
    server,
    device,
    net,
    wire,
    logs,
    async close() {
      await server.close();
      await guestSide.close();
      await wire.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function frontend(rig: Rig, o: Partial<VhostUserFrontendOptions> = {}): VhostUserFrontend {
  return new VhostUserFrontend({ socketPath: rig.socketPath, ...o });
}

/** A broadcast Ethernet frame of `len` bytes whose payload starts with `tag`. */
export function frame(len: number, tag: number): Uint8Array {
  const f = new Uint8Array(len);
  f.fill(0xff, 0, 6);
  f.set([0x52, 0x54, 0, 0xaa, 0xbb, 0xcc], 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  new DataView(f.buffer).setUint32(14, tag);
  return f;
}

/** sysPlatform, counting mappings made and released. */
export function countingPlatform(): VhostUserPlatform & { maps: number; unmaps: number } {
  const p = {
    ...sysPlatform,
    maps: 0,
    unmaps: 0,
    mapShared(fd: number, offset: number, length: number) {
      const m = sysPlatform.mapShared(fd, offset, length);
      p.maps++;
      return { bytes: m.bytes, unmap: () => { p.unmaps++; m.unmap(); } };
    },
  };
  return p;
}

/** Collects what arrives on the host side of the wire. */
export function collect(wire: NetBackend): Uint8Array[] {
  const got: Uint8Array[] = [];
  wire.attach({
    rxReady: () => {
      for (let n; (n = wire.peekRecvLen()) > 0; ) {
        const b = new Uint8Array(n);
        wire.recv([b], 1);
        got.push(b);
      }
    },
  });
  wire.rxEnable();
  return got;
}

/** A 12-byte zero virtio-net header followed by `frame`: what a guest puts in a TX chain. */
export function withHeader(f: Uint8Array): Uint8Array {
  const p = new Uint8Array(12 + f.length);
  p.set(f, 12);
  return p;
}
