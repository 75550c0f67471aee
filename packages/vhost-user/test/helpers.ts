import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetBackend } from '@netbe/core';
import { createMemoryPair } from '@netbe/backend-memory';
import { VirtioNetDevice } from '@netbe/virtio-net';
import { VhostUserNetDevice, VhostUserServer } from '../src/index';
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

export async function makeRig(o: { mac?: string } = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'netbe-vu-'));
  const socketPath = join(dir, 'vu.sock');
  const [guestSide, wire] = createMemoryPair();
  const net = new VirtioNetDevice({ backend: guestSide, mac: o.mac ?? '52:54:00:12:34:56', queueSize: 256 });
  const device = new VhostUserNetDevice(net);
  const logs: string[] = [];
  const server = VhostUserServer.listen({ socketPath, device, log: (l) => logs.push(l) });
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
