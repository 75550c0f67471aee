/**
 * slirp-udp: UDP through the user-mode NAT, guest → host socket and back. A "guest" (frames
 * built with @netbe/wire, sent through the NetBackend contract) sends datagrams to 10.0.2.2:P;
 * the stack NATs them to a UDP echo socket on 127.0.0.1:P; the echoes come back as frames the
 * bench receives with recv. One operation = one datagram out and its echo back, 64 in flight.
 *
 * Reference, measured in the same run: the same traffic between two plain loopback UDP sockets
 * (a client socket instead of the stack), so the ratio is what the stack costs over the kernel path.
 * Loopback only.
 */
import { createSocket, type Socket } from 'node:dgram';
import { ETHERTYPE_IPV4, IP_PROTO_UDP, emitEthernet, emitIpv4, emitUdp, parseIpv4Address } from '@netbe/wire';
import { SlirpBackend } from '@netbe/backend-slirp';
import type { Harness } from './harness';

const WINDOW = 64;
const GUEST = parseIpv4Address('10.0.2.15')!;
const GATEWAY = parseIpv4Address('10.0.2.2')!;
const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56);
const SLIRP_MAC = Uint8Array.of(0x52, 0x55, 10, 0, 2, 2);

function udpFrame(dstPort: number, srcPort: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(Math.max(60, 42 + payload.length));
  emitEthernet({ dst: SLIRP_MAC, src: GUEST_MAC, ethertype: ETHERTYPE_IPV4 }, f);
  emitUdp({ srcPort, dstPort }, GUEST, GATEWAY, payload, f, 34);
  emitIpv4({ src: GUEST, dst: GATEWAY, protocol: IP_PROTO_UDP, payloadLen: 8 + payload.length, ttl: 64, dontFragment: true }, f, 14);
  return f;
}

async function echoServer(): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

export default async function (h: Harness): Promise<void> {
  const echo = await echoServer();
  const port = echo.address().port;
  const backend = await SlirpBackend.create('slirp,loopback=on,icmp=off,resolver=127.0.0.1:9', { log: () => undefined });
  const rxBuf = new Uint8Array(2048);
  let received = 0;
  let wake: (() => void) | undefined;
  backend.attach({
    rxReady: () => {
      while (backend.recv([rxBuf], 1) > 0) received++;
      if (wake) {
        const w = wake;
        wake = undefined;
        w();
      }
    },
  });
  backend.rxEnable();
  const until = (n: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('slirp-udp: echoes stopped arriving (lost datagrams?)')), 5000);
      const check = (): void => {
        if (received >= n) {
          clearTimeout(timer);
          resolve();
        } else wake = check;
      };
      check();
    });

  // The reference: a plain client socket doing the same exchange with the same echo server.
  const client = createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  let refReceived = 0;
  let refWake: (() => void) | undefined;
  client.on('message', () => {
    refReceived++;
    if (refWake) {
      const w = refWake;
      refWake = undefined;
      w();
    }
  });
  const refUntil = (n: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const check = (): void => (refReceived >= n ? resolve() : void (refWake = check));
      check();
    });

  try {
    // Rounds alternate between the reference and the stack, so load on a shared machine hits
    // both alike; each figure is the median of its rounds.
    const pairs = Math.max(3, Number(process.env.NETBE_BENCH_ROUNDS) || 7);
    const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;
    for (const size of [64, 1400]) {
      const payload = new Uint8Array(size).fill(0x5a);
      const frame = udpFrame(port, 40000, payload);
      const refRates: number[] = [];
      const rates: number[] = [];
      for (let p = 0; p < pairs; p++) {
        const ref = await h.measureAsync(async () => {
          const target = refReceived + WINDOW;
          for (let i = 0; i < WINDOW; i++) client.send(payload, port, '127.0.0.1');
          await refUntil(target);
        }, WINDOW, { rounds: 1 });
        const m = await h.measureAsync(async () => {
          const target = received + WINDOW;
          for (let i = 0; i < WINDOW; i++) backend.send([frame], 1);
          await until(target);
        }, WINDOW, { rounds: 1 });
        refRates.push(ref.opsPerSec);
        rates.push(m.opsPerSec);
      }
      const ops = median(rates);
      const refOps = median(refRates);
      // Bytes counted both ways: the datagram out and its echo back.
      h.reportBoth(`echo-${size}`, { opsPerSec: ops, bytesPerSec: ops * 2 * size }, 'loopback-sockets', { opsPerSec: refOps, bytesPerSec: refOps * 2 * size });
    }
    const drops = backend.stackCounters.totalDrops;
    if (drops > 0) h.note(`stack drops during the run: ${JSON.stringify(backend.stackCounters.drops)}`);
  } finally {
    await backend.close();
    await new Promise<void>((r) => client.close(() => r()));
    await new Promise<void>((r) => echo.close(() => r()));
  }
}
