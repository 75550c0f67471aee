import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, createBackend } from '@netbe/core';
import { formatIpv4 } from '@netbe/wire';
import { assertRejects } from '@netbe/test-utils';
import { SLIRP_DEFAULTS, parseResolvConf, parseSlirpConfig, SlirpBackend } from '../src/index';

const throwsOption = (spec: string, option: string): void => {
  try {
    parseSlirpConfig(spec);
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as ConfigError).option, option, (e as Error).message);
    return;
  }
  assert.unreachable(`"${spec}" was accepted`);
};

test('defaults are libslirp\'s layout with the safer loopback choice', () => {
  const o = parseSlirpConfig('slirp');
  assert.is(formatIpv4(o.network), '10.0.2.0');
  assert.is(formatIpv4(o.gateway), '10.0.2.2');
  assert.is(formatIpv4(o.dns), '10.0.2.3');
  assert.is(formatIpv4(o.dhcpStart), '10.0.2.15');
  assert.is(o.dhcpPoolSize, 16);
  assert.is(o.restrict, false);
  assert.is(o.hostLoopback, false);
  assert.is(o.mtu, SLIRP_DEFAULTS.mtu);
});

test('QEMU option names: net, host, dns, dhcpstart, hostname, domainname, dnssearch, restrict, hostfwd', () => {
  const o = parseSlirpConfig('slirp,net=192.168.76.0/24,host=192.168.76.1,dns=192.168.76.53,dhcpstart=192.168.76.100,hostname=vm,domainname=lan,dnssearch=a.lan,dnssearch=b.lan,restrict=on,hostfwd=tcp::2222-:22,hostfwd=udp:0.0.0.0:5353-192.168.76.101:53');
  assert.is(formatIpv4(o.gateway), '192.168.76.1');
  assert.is(formatIpv4(o.dns), '192.168.76.53');
  assert.is(formatIpv4(o.dhcpStart), '192.168.76.100');
  assert.is(o.hostname, 'vm');
  assert.is(o.domainName, 'lan');
  assert.equal(o.dnsSearch, ['a.lan', 'b.lan']);
  assert.ok(o.restrict);
  assert.equal(o.hostForwards.map((f) => [f.protocol, formatIpv4(f.hostAddr), f.hostPort, formatIpv4(f.guestAddr), f.guestPort]), [
    ['tcp', '127.0.0.1', 2222, '192.168.76.100', 22],
    ['udp', '0.0.0.0', 5353, '192.168.76.101', 53],
  ]);
  assert.is(parseSlirpConfig('slirp,net=10.9.0.0/255.255.0.0').netmask, 0xffff0000);
});

test('bhyve names: open and mtu', () => {
  assert.is(parseSlirpConfig('slirp,open').restrict, false);
  assert.is(parseSlirpConfig('slirp,open=off').restrict, true);
  assert.is(parseSlirpConfig('slirp,mtu=9000').mtu, 9000);
});

test('bad options name the option', () => {
  throwsOption('slirp,net=10.0.2.0/31', 'net');
  throwsOption('slirp,net=banana', 'net');
  throwsOption('slirp,host=10.0.3.2', 'host');
  throwsOption('slirp,dns=10.0.2.2', 'dns');
  throwsOption('slirp,dhcpstart=10.0.2.255', 'dhcpstart');
  throwsOption('slirp,hostfwd=tcp:2222:22', 'hostfwd');
  throwsOption('slirp,hostfwd=tcp::70000-:22', 'hostfwd');
  throwsOption('slirp,hostfwd=udp::53-10.9.9.9:53', 'hostfwd');
  throwsOption('slirp,restrict=on,open=on', 'open');
  throwsOption('slirp,restrict=maybe', 'restrict');
  throwsOption('slirp,mtu=100', 'mtu');
  throwsOption('slirp,resolver=1.2.3', 'resolver');
  throwsOption('slirp,dnssearch=bad..name', 'dnssearch');
  throwsOption('slirp,hostname=has space', 'hostname');
  throwsOption('slirp,ipv6=on', 'ipv6');
  throwsOption('slirp,ipv4=off', 'ipv4');
  assert.is(parseSlirpConfig('slirp,ipv4=on,ipv6=off').restrict, false);
});

test('resolv.conf: IPv4 nameservers in order, others skipped', () => {
  const r = parseResolvConf('# comment\nnameserver 127.0.0.53\nnameserver ::1\nsearch lan\n  nameserver 192.0.2.1 \n');
  assert.equal(r.map((x) => [formatIpv4(x.addr), x.port]), [['127.0.0.53', 53], ['192.0.2.1', 53]]);
});

test('the registry creates slirp backends and rejects unknown options', async () => {
  const be = await createBackend('slirp,resolver=127.0.0.1:9,icmp=off');
  assert.instance(be, SlirpBackend);
  await be.close();
  await assertRejects(createBackend('slirp,frobnicate=1'), ConfigError);
});

test('a hostfwd port already in use is a typed error naming the rule', async () => {
  const a = await SlirpBackend.create('slirp,icmp=off,resolver=127.0.0.1:9,hostfwd=udp::0-:7', { log: () => undefined });
  const port = a.hostForwards[0]!.hostPort;
  const err = await assertRejects(SlirpBackend.create(`slirp,icmp=off,resolver=127.0.0.1:9,hostfwd=udp::${port}-:7`, { log: () => undefined }), 'ERR_IO');
  assert.match(err.message, new RegExp(`hostfwd=udp:127.0.0.1:${port}`));
  await a.close();
});

test.run();
