// @timeout 900
/**
 * End to end with the default backend, the user-mode network: `netbe serve` runs as an
 * unprivileged user (nobody) when setpriv is available, a Linux guest under QEMU TCG gets its
 * address by DHCP, pings the gateway, fetches a page from a server on the host's loopback
 * (guest -> host TCP through the NAT), and serves a page that the host fetches through hostfwd.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, isRoot, prerequisite, testWhen, waitFor } from '@netbe/test-utils';
import { buildGuestImage, guestPrerequisiteProblem } from '../../../tools/guest/build-initramfs';
import { GuestVm } from '../../../tools/guest/qemu';
import { dhcpClientScript } from '../../../tools/guest/scripts';
import { freePort } from './e2e-guest-rig';
import { NetbeProcess } from './e2e-netbe-process';

const guestProblem = guestPrerequisiteProblem();
const pre = prerequisite([guestProblem === null, guestProblem ?? '']);

let dir = '';
let netbe: NetbeProcess | undefined;
let vm: GuestVm | undefined;
let web: Server | undefined;

test.after(async () => {
  await vm?.kill();
  if (netbe) await netbe.stop();
  web?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

testWhen(test, pre, 'a QEMU guest on netbe serve with the user-mode network: DHCP, ping, TCP out through NAT, TCP in through hostfwd', async () => {
  dir = mkdtempSync(join(tmpdir(), 'netbe-e2e-slirp-'));
  chmodSync(dir, 0o777);
  const socketPath = join(dir, 'vu.sock');
  const image = buildGuestImage();
  web = createServer((_req, res) => res.end('hello-from-host\n'));
  await new Promise<void>((r) => web!.listen(0, '127.0.0.1', r));
  const webPort = (web.address() as { port: number }).port;
  const fwdPort = await freePort();
  const unprivileged = isRoot() && hasCommand('setpriv');
  netbe = new NetbeProcess(['serve', '--vhost-user', socketPath, '--backend', `slirp,hostfwd=tcp:127.0.0.1:${fwdPort}-:8080,loopback=on`], unprivileged ? { asUser: 65534 } : {});
  const qemuLine = await netbe.waitForLine(/-netdev vhost-user/, 60_000);
  const mac = /mac=([0-9a-f:]{17})/.exec(qemuLine)![1]!;
  const script = `#!/bin/sh
${dhcpClientScript()}ping -c 20 -i 0.05 -W 5 10.0.2.2 > /tmp/ping.txt 2>&1
echo "NETBE-RESULT ping $(grep 'packets transmitted' /tmp/ping.txt)"
# A hand-written request with nc (busybox wget is e2e-qemu-slirp-wget.test.ts).
printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 10 10.0.2.2 ${webPort} > /tmp/got
echo "NETBE-RESULT fetch $? $(tail -n 1 /tmp/got)"
mkdir -p /www && echo guest-says-hi > /www/index.html
httpd -p 8080 -h /www
echo "NETBE-RESULT httpd-up"
# The back-end goes away and a new netbe comes back on the same socket; QEMU reconnects and the
# running guest carries on from the saved ring state.
while ping -c 1 -W 1 10.0.2.2 > /dev/null 2>&1; do sleep 0.2; done
echo "NETBE-RESULT backend-gone"
n=0
until ping -c 1 -W 1 10.0.2.2 > /dev/null 2>&1; do n=$((n+1)); [ $n -gt 300 ] && break; sleep 0.2; done
echo "NETBE-RESULT backend-back"
ping -c 20 -i 0.05 -W 5 10.0.2.2 > /tmp/ping2.txt 2>&1
echo "NETBE-RESULT ping2 $(grep 'packets transmitted' /tmp/ping2.txt)"
sleep 300
`;
  vm = GuestVm.boot({ image, workDir: dir, vhostUserSocket: socketPath, mac, script, reconnectSeconds: 1, onLine: process.env.NETBE_E2E_VERBOSE ? (l) => console.log(`[guest] ${l}`) : undefined });
  await vm.waitForLine(/^NETBE-RESULT httpd-up/, 300_000);
  const r = vm.results();
  assert.match(r.get('dhcp') ?? '', /^10\.0\.2\.15 router 10\.0\.2\.2 dns 10\.0\.2\.3/, vm.lines.slice(-20).join('\n'));
  assert.match(r.get('ping') ?? '', /20 packets transmitted, 20 packets received, 0% packet loss/);
  assert.is(r.get('fetch'), '0 hello-from-host', vm.lines.slice(-20).join('\n'));
  let body = '';
  await waitFor(
    async () => {
      try {
        body = await (await fetch(`http://127.0.0.1:${fwdPort}/`)).text();
      } catch {
        body = '';
      }
      return body.length > 0;
    },
    30_000,
    'the guest web server through hostfwd',
    200,
  );
  assert.is(body, 'guest-says-hi\n');
  console.log(`e2e: slirp backend ${unprivileged ? 'as user nobody' : 'as the current user'}: DHCP ${r.get('dhcp')}; ping ${r.get('ping')}; guest->host and host->guest TCP ok`);

  // netbe stops (clean SIGTERM) while the guest runs; a new netbe takes the same socket.
  assert.is(await netbe.stop(), 0, netbe.lines.slice(-10).join('\n'));
  await vm.waitForLine(/^NETBE-RESULT backend-gone/, 60_000);
  netbe = new NetbeProcess(['serve', '--vhost-user', socketPath, '--backend', 'slirp', '--mac', mac], unprivileged ? { asUser: 65534 } : {});
  await netbe.waitForLine(/front-end connected/, 60_000);
  await vm.waitForLine(/^NETBE-RESULT ping2 /, 120_000);
  assert.match(vm.results().get('ping2') ?? '', /20 packets transmitted, 20 packets received, 0% packet loss/, vm.lines.slice(-10).join('\n'));
  console.log(`e2e: after netbe was restarted under a running guest (QEMU reconnect=1): ${vm.results().get('ping2')}`);
  await vm.kill();
  vm = undefined;
  assert.is(await netbe.stop(), 0, netbe.lines.slice(-10).join('\n'));
});

test.run();
