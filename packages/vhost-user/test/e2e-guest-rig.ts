/**
 * What a QEMU-guest e2e test holds (work directory, netbe process, guest, host HTTP server) and
 * one cleanup for its after hook, so a failed assertion still kills QEMU and netbe.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestVm } from '../../../tools/guest/qemu';
import type { NetbeProcess } from './e2e-netbe-process';

export class GuestRig {
  dir = '';
  netbe: NetbeProcess | undefined;
  vm: GuestVm | undefined;
  web: Server | undefined;

  /** A fresh work directory that netbe running as nobody can create its socket in. */
  makeDir(prefix: string): string {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    chmodSync(this.dir, 0o777);
    return this.dir;
  }

  /** Kills QEMU, stops netbe and the server, removes the directory; the rig can be used again. */
  async cleanup(): Promise<void> {
    await this.vm?.kill();
    if (this.netbe) await this.netbe.stop();
    this.web?.closeAllConnections();
    this.web?.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.vm = this.netbe = this.web = undefined;
    this.dir = '';
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for hostfwd rules). */
export async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
