import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { kernelNetmap, netmapSystem, NetmapUnavailableError, portInfo, valeList } from '../src/index';

const present = existsSync('/dev/netmap');

if (!present) {
  // The one expected skip in CI: without /dev/netmap we prove the "not available" path instead.
  test('without /dev/netmap, opening a port fails with the one clear message', () => {
    for (const open of [() => netmapSystem.openPort({ name: 'vale0:a' }), () => portInfo('eth0'), () => valeList()]) {
      assert.throws(open, (e: Error) => e instanceof NetmapUnavailableError && e.message === 'netmap not available: /dev/netmap missing');
    }
  });
} else {
  test('with /dev/netmap, a VALE port registers, maps, syncs and closes', () => {
    const port = netmapSystem.openPort({ name: 'vale0:nb_open_test' });
    try {
      assert.ok(port.info.memsize > 0);
      assert.is(port.memory.byteLength, port.info.memsize);
      assert.ok(port.nifpOffset > 0 && port.nifpOffset < port.info.memsize);
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
}

test('a device path that does not exist gives the same clear message, naming the path', () => {
  assert.throws(
    () => kernelNetmap('/nonexistent/netmap').openPort({ name: 'vale0:a' }),
    (e: Error & { code?: string }) => e.message === 'netmap not available: /nonexistent/netmap missing' && e.code === 'ERR_NETMAP_UNAVAILABLE',
  );
});

test.run();
