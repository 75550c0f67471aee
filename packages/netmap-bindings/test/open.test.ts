import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelNetmap, netmapSystem, NetmapUnavailableError, portInfo, valeAttach, valeCreatePort, valeDeletePort, valeDetach, valeList } from '../src/index';

const present = existsSync('/dev/netmap');

if (!present) {
  // The one expected skip in CI: without /dev/netmap we prove the "not available" path instead.
  test('without /dev/netmap, opening a port fails with the one clear message', () => {
    const calls = [
      () => netmapSystem.openPort({ name: 'vale0:a' }),
      () => portInfo('eth0'),
      () => valeList(),
      () => valeCreatePort('nbp0'),
      () => valeAttach('vale0:nbp0'),
      () => valeDetach('vale0:nbp0'),
      () => valeDeletePort('nbp0'),
    ];
    for (const open of calls) {
      assert.throws(open, (e: Error) => e instanceof NetmapUnavailableError && e.message === 'netmap not available: /dev/netmap missing');
    }
  });
} else {
  test('with /dev/netmap, a VALE port registers, maps, syncs and closes', () => {
    const port = netmapSystem.openPort({ name: 'vale0:nb_open_test' });
    try {
      assert.ok(port.info.memsize > 0);
      assert.is(port.memory.byteLength, port.info.memsize);
      // The netmap_if pool comes first in the region: the first port of an allocator has offset 0.
      assert.ok(port.nifpOffset >= 0 && port.nifpOffset < port.info.memsize);
      port.txSync();
      port.rxSync();
      port.setHeaderLength(12);
      assert.is(port.getHeaderLength(), 12);
      port.setHeaderLength(0);
    } finally {
      port.close();
    }
    port.close();
  });

  test('with /dev/netmap, a persistent VALE port is created, attached, listed, detached and deleted', () => {
    const name = `nbp${process.pid % 100000}`;
    valeCreatePort(name, { txSlots: 256, rxSlots: 256 });
    try {
      const index = valeAttach(`vale0:${name}`);
      assert.ok(valeList().some((p) => p.name === `vale0:${name}`));
      assert.is(valeDetach(`vale0:${name}`), index);
    } finally {
      valeDeletePort(name);
    }
  });
}

test('a device path that does not exist gives the same clear message, naming the path', () => {
  assert.throws(
    () => kernelNetmap('/nonexistent/netmap').openPort({ name: 'vale0:a' }),
    (e: Error & { code?: string }) => e.message === 'netmap not available: /nonexistent/netmap missing' && e.code === 'ERR_NETMAP_UNAVAILABLE',
  );
});

test('a device that is not netmap: register fails with its errno, and the fd is closed again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netmap-open-'));
  try {
    const file = join(dir, 'not-netmap');
    writeFileSync(file, new Uint8Array(64));
    const fds = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20; i++) {
      assert.throws(() => kernelNetmap(file).openPort({ name: 'vale0:a' }), (e: Error & { code?: string }) => e.code === 'ENOTTY' && /NIOCREGIF/.test(e.message));
    }
    assert.is(readdirSync('/proc/self/fd').length, fds, 'no fd leaked');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
