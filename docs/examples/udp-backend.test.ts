import { createSocket } from 'node:dgram';
import { createBackend } from '@netbe/core';
import { backendConformance } from '@netbe/conformance';
import { registerUdpBackend, type UdpBackend } from './udp-backend';

registerUdpBackend();

/** The far end of the tunnel: a plain UDP socket on loopback. */
async function farEnd() {
  const socket = createSocket('udp4');
  const got: Uint8Array[] = [];
  socket.on('message', (m) => got.push(new Uint8Array(m)));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    sendTo: (frame: Uint8Array, port: number) => new Promise<void>((resolve) => socket.send(frame, port, '127.0.0.1', () => resolve())),
    take: () => got.splice(0),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

backendConformance({
  name: 'example udp backend',
  supports: {
    send: true,
    receive: true,
    vnetHeader: { notApplicable: 'bare Ethernet on the wire; the device adds and strips the header' },
    reopen: true,
  },
  create: async () => {
    const far = await farEnd();
    const backend = (await createBackend(`udp,remote=127.0.0.1:${far.port}`)) as UdpBackend;
    return { backend, deliverToBackend: (f) => far.sendTo(f, backend.localPort), collectFromBackend: far.take, close: far.close };
  },
}).run();
