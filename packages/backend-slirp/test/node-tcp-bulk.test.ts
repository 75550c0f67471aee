// @timeout 120
/**
 * Bulk guest → host through real sockets: 16 MiB sent as fast as the advertised window allows to
 * a host reader that stalls for a while (the kernel's socket buffer fills, so the adapter's direct
 * write(2) comes up short and the rest goes through Node's queue, then 'drain' reopens the
 * window). The bytes the host reads must be exactly the bytes sent, in order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EthernetFrame, Ipv4Packet, TCP_ACK, TCP_SYN, TcpPacket } from '@netbe/wire';
import { waitFor } from '@netbe/test-utils';
import { SlirpBackend } from '../src/backend';
import { GATEWAY, GUEST, tcpFrame } from './helpers/guest';
import { HostServer } from './helpers/host-server';

const host = new HostServer();
test.after.each(() => host.close());

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let s = 0x12345678;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    b[i] = s & 0xff;
  }
  return b;
}

test('16 MiB guest → host past a stalled reader: every byte arrives in order', async () => {
  const total = 16 << 20;
  const data = pattern(total);
  const got = new Uint8Array(total);
  let received = 0;
  let mismatch = -1;
  const port = await host.listen();
  const be = (host.backend = await SlirpBackend.create('slirp,loopback=on,mtu=65520,icmp=off,resolver=127.0.0.1'));
  be.setCap(0n, 0);
  let synAck: { seq: number; ack: number } | undefined; // copied out: the frame buffer is reused
  let una = 0;
  let wnd = 0;
  let wscale = 0;
  const buf = new Uint8Array(70_000);
  be.attach({
    rxReady: () => {
      for (let n = be.recv([buf], 1); n > 0; n = be.recv([buf], 1)) {
        const eth = EthernetFrame.wrap(buf.subarray(0, n));
        if (eth.ethertype !== 0x0800) continue;
        const ip = Ipv4Packet.wrap(eth.payload);
        if (ip.protocol !== 6) continue;
        const tcp = TcpPacket.wrap(ip.payload);
        if (tcp.flags & TCP_SYN) {
          synAck = { seq: tcp.seq, ack: tcp.ack };
          wscale = tcp.options.windowScale ?? 0;
          wnd = tcp.window; // never scaled in a SYN
          continue;
        }
        if (synAck && ((tcp.ack - (synAck.ack)) | 0) >= 0) {
          una = (tcp.ack - synAck.ack) >>> 0;
          wnd = tcp.window << wscale;
        }
      }
    },
  });
  be.rxEnable();
  const iss = 5000;
  be.send([tcpFrame(GUEST, GATEWAY, { srcPort: 41000, dstPort: port, seq: iss, ack: 0, flags: TCP_SYN, window: 65535, options: { mss: 65480, windowScale: 7 } })], 1);
  await waitFor(() => synAck !== undefined, 5000, 'SYN-ACK');
  const peer = (synAck!.seq + 1) >>> 0;
  be.send([tcpFrame(GUEST, GATEWAY, { srcPort: 41000, dstPort: port, seq: iss + 1, ack: peer, flags: TCP_ACK, window: 65535 })], 1);
  await waitFor(() => host.sockets.length === 1, 5000, 'accept');
  const sock = host.sockets[0]!;
  sock.pause(); // the reader stalls: the kernel buffers fill first
  sock.on('data', (d: Buffer) => {
    for (let i = 0; i < d.length && mismatch < 0; i++) if (d[i] !== data[received + i]) mismatch = received + i;
    got.set(d, received);
    received += d.length;
  });
  setTimeout(() => sock.resume(), 300);
  // una counts from ISS + 1 (synAck.ack), so it is the offset of the first unacknowledged byte.
  let nxt = 0;
  await waitFor(() => {
    if (((una - nxt) | 0) > 0) nxt = una; // never behind what was acknowledged
    while (nxt < total && nxt - una < wnd) {
      const n = Math.min(65_400, total - nxt, wnd - (nxt - una));
      if (n <= 0) break;
      be.send([tcpFrame(GUEST, GATEWAY, { srcPort: 41000, dstPort: port, seq: (iss + 1 + nxt) >>> 0, ack: peer, flags: TCP_ACK, window: 65535 }, data.subarray(nxt, nxt + n))], 1);
      nxt += n;
    }
    return received === total || mismatch >= 0;
  }, 60_000, 'all 16 MiB at the host', 1);
  assert.is(mismatch, -1, `first wrong byte at ${mismatch}`);
  assert.is(received, total);
  assert.is(be.stackCounters.drops['tcp-out-of-window'], undefined, 'the guest kept to the advertised window');
  const w = be.host.tcpWriteCounts;
  assert.ok(w.direct > 0, `writes straight to the socket (${JSON.stringify(w)})`);
  assert.ok(w.queued > 0, `writes the kernel did not take whole went through Node's queue (${JSON.stringify(w)})`);
});

test.run();
