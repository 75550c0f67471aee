/**
 * Hostile front-ends: every malformed message closes that connection with one clear log line,
 * fds that came with it are closed, and the process keeps serving — after each case a fresh
 * front-end is set up and moves a frame.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { sys } from '@netbe/sys';
import { waitFor, withTimeout } from '@netbe/test-utils';
import { collect, frame, frontend, makeRig, withHeader, type Rig } from './helpers';
import type { VhostUserFrontend } from '../src/testing/index';
import {
  FLAG_REPLY,
  FLAG_VERSION,
  HEADER_SIZE,
  Req,
  encodeMemRegion,
  encodeMemTable,
  encodeMessage,
  encodeU64,
  encodeVringAddr,
  encodeVringFd,
  encodeVringState,
} from '../src/index';

// A fresh server per test: one failure cannot leave a connection behind for the next test.
let rig: Rig;
test.before.each(async () => {
  rig = await makeRig();
});
test.after.each(async () => {
  await rig.close();
});

const openFds = (): number => readdirSync('/proc/self/fd').length;

/** A fresh front-end that sets up and moves one frame: the server is alive and well. */
async function assertServing(): Promise<void> {
  await waitFor(() => !rig.server.connected, 5000, 'the previous connection to be gone');
  const fe = frontend(rig);
  try {
    const got = collect(rig.wire);
    await withTimeout(5000, fe.setUp(), 'set-up after a hostile connection');
    fe.drivers[1]!.postAndKick({ readable: [withHeader(frame(64, 42))] });
    await waitFor(() => got.length === 1, 5000, 'a frame after a hostile connection');
  } finally {
    fe.close();
  }
}

/**
 * Runs `attack` on a fresh connection (after `prepare`, e.g. a normal set-up) and expects the
 * server to close it with a log line matching `reason`.
 */
async function expectRejected(name: string, reason: RegExp, attack: (fe: VhostUserFrontend) => void | Promise<void>, prepare?: (fe: VhostUserFrontend) => Promise<void>): Promise<void> {
  await waitFor(() => !rig.server.connected, 5000, 'no connection');
  const logsBefore = rig.logs.length;
  const rejectedBefore = rig.server.connectionsRejected;
  const fe = frontend(rig);
  try {
    if (prepare) await prepare(fe);
    await attack(fe);
    await withTimeout(5000, fe.closed, `${name}: the server closing the connection`);
    assert.is(rig.server.connectionsRejected, rejectedBefore + 1, `${name}: counted as rejected`);
    const line = rig.logs.slice(logsBefore).find((l) => /closing connection/.test(l)) ?? '';
    assert.match(line, reason, `${name}: log line "${line}"`);
  } finally {
    fe.close();
  }
  await assertServing();
}

const u32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};

test('wrong payload sizes', async () => {
  await expectRejected('SET_FEATURES with 4 bytes', /SET_FEATURES.*4 bytes, expected 8/, (fe) => fe.send(Req.SET_FEATURES, u32(1)));
  await expectRejected('GET_FEATURES with a payload', /GET_FEATURES.*expected 0/, (fe) => fe.send(Req.GET_FEATURES, encodeU64(0)));
  await expectRejected('SET_VRING_ADDR too short', /SET_VRING_ADDR.*expected 40/, (fe) => fe.send(Req.SET_VRING_ADDR, new Uint8Array(32)));
  await expectRejected('payload larger than any message', /payload size 65536 exceeds/, (fe) => {
    const h = encodeMessage(Req.SET_FEATURES, new Uint8Array(0));
    new DataView(h.buffer).setUint32(8, 65536, true);
    fe.sendRaw(h);
  });
  await expectRejected('memory table count disagrees with size', /SET_MEM_TABLE.*40 bytes, expected 72/, (fe) => {
    const t = encodeMemTable([fe.regions[0]!]);
    new DataView(t.buffer).setUint32(0, 2, true);
    fe.send(Req.SET_MEM_TABLE, t, { fds: [fe.memfd] });
  });
});

test('missing and extra fds (and they are closed)', async () => {
  const fdsBefore = openFds();
  const ev = sys.eventfdCreate(0);
  await expectRejected('SET_VRING_KICK without its fd', /SET_VRING_KICK.*carried 0 file descriptors, expected 1/, (fe) => fe.send(Req.SET_VRING_KICK, encodeVringFd(0, false)));
  await expectRejected('SET_VRING_CALL with the no-fd bit and an fd', /carried 1 file descriptors, expected 0/, (fe) => fe.send(Req.SET_VRING_CALL, encodeVringFd(0, true), { fds: [ev] }));
  await expectRejected('GET_FEATURES with an fd', /GET_FEATURES.*carried 1 file descriptors, expected 0/, (fe) => fe.send(Req.GET_FEATURES, undefined, { fds: [ev] }));
  await expectRejected('SET_MEM_TABLE with two fds for one region', /carried 2 file descriptors, expected 1/, (fe) => fe.send(Req.SET_MEM_TABLE, encodeMemTable([fe.regions[0]!]), { fds: [fe.memfd, fe.memfd] }));
  await expectRejected('more fds than any message may carry', /more than 8 file descriptors|at most 8/, (fe) => fe.send(Req.SET_OWNER, undefined, { fds: new Array(12).fill(ev) }));
  sys.close(ev);
  await waitFor(() => openFds() <= fdsBefore, 5000, `fds back to ${fdsBefore} (now ${openFds()})`);
});

test('memory tables: overlap, beyond the file, zero and too many regions', async () => {
  await expectRejected('guest-physical overlap', /overlap in guest-physical space/, (fe) => {
    const a = fe.regions[0]!;
    fe.sendMemTable([a, { ...fe.regions[1]!, guestPhysAddr: a.guestPhysAddr + 4096 }]);
  });
  await expectRejected('user-address overlap', /overlap in the front-end's address space/, (fe) => {
    const a = fe.regions[0]!;
    fe.sendMemTable([a, { ...fe.regions[1]!, userAddr: a.userAddr + a.size - 4096 }]);
  });
  await expectRejected('region beyond the end of its file', /needs \d+ bytes of its file/, (fe) => fe.sendMemTable([{ ...fe.regions[0]!, size: 1 << 30 }]));
  await expectRejected('region wrapping 2^53', /ends beyond 2\^53|not below 2\^53/, (fe) => fe.sendMemTable([{ ...fe.regions[0]!, guestPhysAddr: 2 ** 53 - 4096 }]));
  await expectRejected('zero regions', /0 regions/, (fe) => fe.send(Req.SET_MEM_TABLE, encodeMemTable([])));
  await expectRejected('nine regions', /9 regions/, (fe) => {
    const r = fe.regions[0]!;
    const many = Array.from({ length: 9 }, (_, i) => ({ ...r, size: 4096, guestPhysAddr: i * 8192, userAddr: r.userAddr + i * 8192, mmapOffset: 0 }));
    fe.send(Req.SET_MEM_TABLE, encodeMemTable(many), { fds: [fe.memfd] });
  });
  await expectRejected('nine fds for nine regions', /more than 8 file descriptors/, (fe) => {
    const r = fe.regions[0]!;
    const many = Array.from({ length: 9 }, (_, i) => ({ ...r, size: 4096, guestPhysAddr: i * 8192, userAddr: r.userAddr + i * 8192, mmapOffset: 0 }));
    fe.send(Req.SET_MEM_TABLE, encodeMemTable(many), { fds: many.map(() => fe.memfd) });
  });
  await expectRejected('a region of size 0', /size 0/, (fe) => fe.sendMemTable([{ ...fe.regions[0]!, size: 0 }]));
  await expectRejected('a memory fd that is not a file (an eventfd)', /region 0/, (fe) => {
    const ev = sys.eventfdCreate(0);
    fe.send(Req.SET_MEM_TABLE, encodeMemTable([fe.regions[0]!]), { fds: [ev] });
    sys.close(ev);
  });
});

test('memory slots: not negotiated, overlapping, no fd, unknown removal, removing a running ring\'s memory, all slots used', async () => {
  const slots = async (fe: VhostUserFrontend): Promise<void> => {
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(1n << 15n));
  };
  await expectRejected('ADD_MEM_REG without CONFIGURE_MEM_SLOTS', /CONFIGURE_MEM_SLOTS protocol feature was not negotiated/, (fe) => fe.addMemRegion(fe.regions[0]!));
  await expectRejected('ADD_MEM_REG overlapping a region in force', /overlap in guest-physical space/, (fe) => {
    fe.addMemRegion(fe.regions[0]!);
    fe.addMemRegion({ ...fe.regions[1]!, guestPhysAddr: fe.regions[0]!.guestPhysAddr + 8192 });
  }, slots);
  await expectRejected('ADD_MEM_REG without its fd', /carried 0 file descriptors, expected 1/, (fe) => fe.send(Req.ADD_MEM_REG, encodeMemRegion(fe.regions[0]!)), slots);
  await expectRejected('REM_MEM_REG of a region never added', /REM_MEM_REG \(38\): no region at guest address/, (fe) => fe.removeMemRegion(fe.regions[1]!), slots);
  await expectRejected('REM_MEM_REG of the memory a running ring lives in', /ring 1 descriptor table .* outside every memory region/, async (fe) => {
    await fe.setUp();
    fe.removeMemRegion(fe.regions[1]!);
  });
  await expectRejected('more regions than slots', /all 32 memory slots are in use/, (fe) => {
    const r = fe.regions[0]!;
    for (let i = 0; i < 33; i++) fe.addMemRegion({ guestPhysAddr: i * 8192, size: 4096, userAddr: r.userAddr + i * 8192, mmapOffset: 0 });
  }, slots);
});

test('rings outside memory, bad sizes, bad indices, bad order', async () => {
  const partial = async (fe: VhostUserFrontend): Promise<void> => {
    await fe.getU64(Req.GET_FEATURES);
    fe.send(Req.SET_FEATURES, encodeU64(1n << 32n));
    fe.sendMemTable();
  };
  await expectRejected(
    'descriptor table outside every region',
    /ring 1 descriptor table at user address 0x1000\+\d+ is outside every memory region/,
    (fe) => fe.send(Req.SET_VRING_ADDR, encodeVringAddr({ index: 1, flags: 0, descUserAddr: 0x1000, usedUserAddr: fe.regions[1]!.userAddr, availUserAddr: fe.regions[1]!.userAddr, logGuestAddr: 0 })),
    partial,
  );
  await expectRejected(
    'used ring straddling the end of its region',
    /used ring .* is outside every memory region/,
    (fe) => {
      const r = fe.regions[1]!;
      fe.send(Req.SET_VRING_ADDR, encodeVringAddr({ index: 1, flags: 0, descUserAddr: r.userAddr, availUserAddr: r.userAddr + 0x4000, usedUserAddr: r.userAddr + r.size - 64, logGuestAddr: 0 }));
    },
    partial,
  );
  await expectRejected(
    'misaligned descriptor table',
    /misaligned/,
    (fe) => {
      const r = fe.regions[1]!;
      fe.send(Req.SET_VRING_ADDR, encodeVringAddr({ index: 1, flags: 0, descUserAddr: r.userAddr + 8, availUserAddr: r.userAddr + 0x4000, usedUserAddr: r.userAddr + 0x8000, logGuestAddr: 0 }));
      fe.send(Req.SET_VRING_KICK, encodeVringFd(1, false), { fds: [fe.memfd] });
    },
    partial,
  );
  await expectRejected('ring index beyond the device', /ring 7 does not exist/, (fe) => fe.send(Req.SET_VRING_NUM, encodeVringState({ index: 7, num: 256 })));
  await expectRejected('ring size not a power of two', /size 100 is not a power of two/, (fe) => fe.send(Req.SET_VRING_NUM, encodeVringState({ index: 0, num: 100 })));
  await expectRejected('ring size above the maximum', /size 65536/, (fe) => fe.send(Req.SET_VRING_NUM, encodeVringState({ index: 0, num: 65536 })));
  await expectRejected('base beyond 16 bits', /base 70000/, (fe) => fe.send(Req.SET_VRING_BASE, encodeVringState({ index: 0, num: 70000 })));
  await expectRejected('ring started before the memory table', /started before SET_MEM_TABLE/, (fe) => {
    const ev = sys.eventfdCreate(0);
    fe.send(Req.SET_VRING_KICK, encodeVringFd(0, false), { fds: [ev] });
    sys.close(ev);
  });
  await expectRejected('SET_VRING_ENABLE with state 2', /neither 0 nor 1/, (fe) => fe.send(Req.SET_VRING_ENABLE, encodeVringState({ index: 0, num: 2 })));
  await expectRejected('kick fd that cannot be polled (a memfd)', /ring 1: the kick fd cannot be polled/, async (fe) => {
    await fe.setUp();
    // A memfd is always readable and reads 0 bytes: not an eventfd.
    fe.send(Req.SET_VRING_KICK, encodeVringFd(1, false), { fds: [fe.memfd] });
  });
  await expectRejected('SET_VRING_NUM on a running ring', /ring 1 is running/, async (fe) => {
    await fe.setUp();
    fe.send(Req.SET_VRING_NUM, encodeVringState({ index: 1, num: 128 }));
  });
});

test('unknown and unsupported requests, bad flags, features not offered', async () => {
  await expectRejected('unknown request 99', /unknown request 99 is not supported/, (fe) => fe.send(99));
  await expectRejected('SET_LOG_BASE', /SET_LOG_BASE \(6\) is not supported/, (fe) => fe.send(Req.SET_LOG_BASE, new Uint8Array(16), { fds: [fe.memfd] }));
  await expectRejected('version 2', /protocol version 2/, (fe) => fe.send(Req.GET_FEATURES, undefined, { flags: 2 }));
  await expectRejected('a request with the reply flag', /reply flag set/, (fe) => fe.send(Req.GET_FEATURES, undefined, { flags: FLAG_VERSION | FLAG_REPLY }));
  await expectRejected('features never offered', /bits that were not offered/, (fe) => fe.send(Req.SET_FEATURES, encodeU64(1n << 63n)));
  await expectRejected('protocol features never offered', /SET_PROTOCOL_FEATURES.*not offered/, (fe) => fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(1n << 40n)));
  await expectRejected('GET_CONFIG without the CONFIG protocol feature', /CONFIG protocol feature was not negotiated/, (fe) => fe.send(Req.GET_CONFIG, new Uint8Array(12)));
  await expectRejected('SET_VRING_ADDR asking for logging', /logging/, (fe) => fe.send(Req.SET_VRING_ADDR, encodeVringAddr({ index: 0, flags: 1, descUserAddr: 0, usedUserAddr: 0, availUserAddr: 0, logGuestAddr: 0 })));
});

test('a connection that ends in the middle of a message, and a second front-end at once', async () => {
  const fe = frontend(rig);
  fe.sendRaw(encodeMessage(Req.SET_FEATURES, encodeU64(0)).subarray(0, HEADER_SIZE + 3));
  await waitFor(() => rig.server.connected, 5000, 'connected');
  const second = frontend(rig);
  await withTimeout(5000, second.closed, 'the second front-end refused');
  second.close();
  assert.ok(rig.logs.some((l) => /refusing a second front-end/.test(l)));
  fe.close();
  await waitFor(() => rig.logs.some((l) => /in the middle of a message/.test(l)), 5000, 'the truncated-message log line');
  await assertServing();
});

test('fuzz: random messages never crash the process and never leak fds', async () => {
  const fdsBefore = openFds();
  const rejectedBefore = rig.server.connectionsRejected;
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          request: fc.oneof(fc.integer({ min: 0, max: 45 }), fc.constantFrom(Req.SET_MEM_TABLE, Req.SET_VRING_ADDR, Req.SET_VRING_KICK, Req.GET_VRING_BASE)),
          payload: fc.uint8Array({ maxLength: 80 }),
          fds: fc.integer({ min: 0, max: 2 }),
          flags: fc.constantFrom(1, 1, 1, 9, 5, 0),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      async (messages) => {
        await waitFor(() => !rig.server.connected, 5000, 'no connection');
        const fe = frontend(rig);
        try {
          await fe.setUp();
          for (const m of messages) {
            if (fe.isClosed) break;
            const fds = Array.from({ length: m.fds }, (_, i) => (i === 0 ? fe.memfd : fe.callFds[0]!));
            try {
              fe.sendRaw(encodeMessage(m.request, m.payload, m.flags), fds);
            } catch {
              break; // the server closed the socket under us
            }
          }
          // Let the server handle them; then it is either still serving this front-end or closed it.
          await Promise.race([fe.closed, new Promise((r) => setTimeout(r, 20))]);
        } finally {
          fe.close();
        }
      },
    ),
    { numRuns: 150 },
  );
  assert.ok(rig.server.connectionsRejected - rejectedBefore > 50, `the fuzzer provoked rejections (${rig.server.connectionsRejected - rejectedBefore})`);
  await assertServing();
  await waitFor(() => openFds() <= fdsBefore, 5000, `fds back to ${fdsBefore} (now ${openFds()})`);
});

test.run();
