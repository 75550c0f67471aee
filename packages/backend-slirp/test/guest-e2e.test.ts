// @timeout 900
/**
 * A real Linux guest (QEMU TCG, vhost-user, `netbe serve`) on the slirp backend: DHCP lease,
 * DNS over UDP (busybox nslookup) and over TCP (a hand-made query through nc) answered by a
 * DNS responder on the host's loopback, pings to the DNS address (answered by the stack) and to
 * the gateway mapped to host loopback (a real ICMP echo through a raw socket when root), and UDP
 * with a host socket (busybox tftp against a one-file TFTP responder on loopback).
 * Uses the vhost-user helper's tooling (tools/guest, e2e-netbe-process).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prerequisite, testWhen } from '@netbe/test-utils';
import { buildGuestImage, guestPrerequisiteProblem } from '../../../tools/guest/build-initramfs';
import { GuestVm } from '../../../tools/guest/qemu';
import { dhcpClientScript } from '../../../tools/guest/scripts';
import { NetbeProcess } from '../../vhost-user/test/e2e-netbe-process';
import { LoopbackDns } from './helpers/dns-server';

const guestProblem = guestPrerequisiteProblem();
const pre = prerequisite([guestProblem === null, guestProblem ?? '']);

const dns = new LoopbackDns({ 'host.test': '192.0.2.44', 'tcp.test': '192.0.2.45' });
let tftp: Socket | undefined;
let dir = '';
let netbe: NetbeProcess | undefined;
let vm: GuestVm | undefined;

test.after(async () => {
  await vm?.kill();
  if (netbe) await netbe.stop();
  if (tftp) await new Promise<void>((r) => tftp!.close(() => r()));
  if (dns.port) await dns.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Serves one file over TFTP (RFC 1350) from the same socket: RRQ → DATA #1 (< 512 bytes, the last). */
async function startTftp(content: string): Promise<number> {
  tftp = createSocket('udp4');
  tftp.on('message', (m, r) => {
    if (m.readUInt16BE(0) !== 1) return; // only RRQ; the final ACK needs no answer
    const data = Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.from(content)]);
    tftp!.send(data, r.port, r.address);
  });
  await new Promise<void>((r) => tftp!.bind(0, '127.0.0.1', r));
  return tftp.address().port;
}

testWhen(test, pre, 'a Linux guest on slirp: DHCP, DNS over UDP and TCP, pings, UDP with a host socket', async () => {
  await dns.start();
  const tftpPort = await startTftp('hello-over-udp\n');
  dir = mkdtempSync(join(tmpdir(), 'netbe-slirp-guest-'));
  chmodSync(dir, 0o777);
  const socketPath = join(dir, 'vu.sock');
  const image = buildGuestImage();
  netbe = new NetbeProcess(['serve', '--vhost-user', socketPath, '--backend', `slirp,loopback=on,resolver=127.0.0.1:${dns.port},dnssearch=test`]);
  const qemuLine = await netbe.waitForLine(/-netdev vhost-user/, 60_000);
  const mac = /mac=([0-9a-f:]{17})/.exec(qemuLine)![1]!;
  // DNS over TCP: a 26-byte query for tcp.test (id 0x2222, RD), length-prefixed (RFC 1035 §4.2.2).
  const tcpQuery = '\\000\\032\\042\\042\\001\\000\\000\\001\\000\\000\\000\\000\\000\\000\\003tcp\\004test\\000\\000\\001\\000\\001';
  const script = `#!/bin/sh
${dhcpClientScript({ requestOptions: ['search'] })}nslookup host.test 10.0.2.3 > /tmp/ns.txt 2>&1
echo "NETBE-RESULT nslookup $(grep -q 192.0.2.44 /tmp/ns.txt && echo found)"
printf '${tcpQuery}' | nc -w 5 10.0.2.3 53 > /tmp/tcpdns.bin
echo "NETBE-RESULT tcpdns $(od -An -tu1 /tmp/tcpdns.bin | tr -s ' \\n' ' ')"
ping -c 5 -i 0.2 -W 5 10.0.2.3 > /tmp/p1.txt 2>&1
echo "NETBE-RESULT ping-dns $(grep 'packets transmitted' /tmp/p1.txt)"
ping -c 5 -i 0.2 -W 5 10.0.2.2 > /tmp/p2.txt 2>&1
echo "NETBE-RESULT ping-gw $(grep 'packets transmitted' /tmp/p2.txt)"
cd /tmp && tftp -g -r greeting -l /tmp/greeting 10.0.2.2 ${tftpPort}
echo "NETBE-RESULT tftp $? $(cat /tmp/greeting)"
echo "NETBE-RESULT all-done"
sleep 300
`;
  vm = GuestVm.boot({ image, workDir: dir, vhostUserSocket: socketPath, mac, script, onLine: process.env.NETBE_E2E_VERBOSE ? (l) => console.log(`[guest] ${l}`) : undefined });
  await vm.waitForLine(/^NETBE-RESULT all-done/, 300_000);
  const r = vm.results();
  const tail = vm.lines.slice(-25).join('\n');
  assert.match(r.get('dhcp') ?? '', /^10\.0\.2\.15 router 10\.0\.2\.2 dns 10\.0\.2\.3 search test/, tail);
  assert.is(r.get('nslookup'), 'found', `nslookup found the address:\n${tail}`);
  // The TCP answer: 2-byte length, id 0x2222 (34 34), …, the A record's address 192.0.2.45 at the end.
  const bytes = (r.get('tcpdns') ?? '').trim().split(' ').map(Number);
  assert.equal(bytes.slice(2, 4), [34, 34], `DNS-over-TCP answer id: ${r.get('tcpdns')}`);
  assert.equal(bytes.slice(-4), [192, 0, 2, 45], `DNS-over-TCP answer address: ${r.get('tcpdns')}`);
  assert.match(r.get('ping-dns') ?? '', /5 packets transmitted, 5 packets received/);
  assert.match(r.get('ping-gw') ?? '', /5 packets transmitted, 5 packets received/);
  assert.is(r.get('tftp'), '0 hello-over-udp', tail);
  assert.ok(dns.queries.some((q) => q.transport === 'udp' && q.name === 'host.test'));
  assert.ok(dns.queries.some((q) => q.transport === 'tcp' && q.name === 'tcp.test'));
  console.log(`guest e2e: DHCP ${r.get('dhcp')}; ping DNS ${r.get('ping-dns')}; ping gateway ${r.get('ping-gw')}`);
});

test.run();
