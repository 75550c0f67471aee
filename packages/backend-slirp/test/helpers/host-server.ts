import { createServer, type Server, type Socket } from 'node:net';
import type { SlirpBackend } from '../../src/backend';

/**
 * A TCP server on the host's 127.0.0.1 (reached by a guest through the gateway with
 * `loopback=on`), the sockets it accepted and the backend under test: `close()` in after-hooks.
 */
export class HostServer {
  server: Server | undefined;
  readonly sockets: Socket[] = [];
  backend: SlirpBackend | undefined;

  /** Listens on an ephemeral port; `onData` sees every byte accepted sockets receive. Returns the port. */
  async listen(onData?: (d: Buffer) => void): Promise<number> {
    const server = createServer((s) => {
      this.sockets.push(s);
      if (onData) s.on('data', onData);
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return (server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.destroy();
    const server = this.server;
    this.server = undefined;
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await this.backend?.close();
    this.backend = undefined;
  }
}
