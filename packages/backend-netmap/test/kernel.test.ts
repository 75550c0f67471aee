import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { createBackend, NetbeError } from '@netbe/core';
import { backendConformance, peerHarness } from '@netbe/conformance';
import { netmapSystem } from '@netbe/netmap-bindings';
import { NetmapBackend } from '../src/index';
import { ringCases } from './ring-cases';

// The same ring cases and conformance kit as on the double, run on the kernel's /dev/netmap:
// two ports on one VALE switch exchange traffic. Without /dev/netmap (this is the one expected
// gap in CI) nothing is faked: the suites are reported skipped with the reason, and a test proves
// the "not available" path gives exactly that message.

const UNAVAILABLE = 'netmap not available: /dev/netmap missing';
const SUITES = ['netmap kernel: ring logic on VALE ports', 'netmap kernel: conformance on two VALE ports'];

if (!existsSync('/dev/netmap')) {
  for (const name of SUITES) console.log(`skip: ${name}: ${UNAVAILABLE}`);

  test('without /dev/netmap, opening netmap: and vale ports fails with exactly the clear message', async () => {
    for (const name of ['vale0:vm1', 'netmap:eth0', 'netmap:eth0-1']) {
      assert.throws(() => NetmapBackend.open(name), (e: Error) => e instanceof NetbeError && e.code === 'ERR_UNAVAILABLE' && e.message === UNAVAILABLE, name);
      const viaRegistry = await createBackend(name).then(
        () => undefined,
        (e: unknown) => e as NetbeError,
      );
      assert.is(viaRegistry?.code, 'ERR_UNAVAILABLE');
      assert.is(viaRegistry?.message, UNAVAILABLE);
    }
  });
  test.run();
} else {
  let n = 0;
  const sw = (): string => `valenb${process.pid % 10000}x${n++}`;
  ringCases(test, { system: netmapSystem, switchName: sw });
  test.run();
  backendConformance({
    name: SUITES[1]!,
    supports: { send: true, receive: true, vnetHeader: true, reopen: true },
    maxFrameLength: 9000,
    quietMs: 60,
    create: () => {
      const name = sw();
      return peerHarness(NetmapBackend.open(`${name}:a`), NetmapBackend.open(`${name}:b`));
    },
  }).run();
}
