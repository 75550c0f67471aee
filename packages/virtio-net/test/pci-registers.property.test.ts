import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createMemoryPair } from '@netbe/backend-memory';
import { guardedMemory } from '@netbe/virtio/testing';
import { LegacyVirtioPci, MODERN_BAR_SIZE, ModernVirtioPci, VirtioNetDevice } from '../src/index';

/** A driver access: offset, size (including invalid ones), value, read or write. */
const access = (barSize: number) =>
  fc.record({
    offset: fc.oneof(fc.integer({ min: 0, max: barSize + 8 }), fc.constantFrom(0, 4, 8, 12, 14, 16, 18, 19, 20, 22, 24, 0x14, 0x16, 0x18, 0x1c, 0x20, 0x24, 0x3000, 0x3004)),
    size: fc.constantFrom(1, 2, 4, 4, 3, 8),
    value: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 3, 7, 11, 15, 0x80, 0x1000, 0xffff)),
    write: fc.boolean(),
  });

for (const kind of ['legacy', 'modern'] as const) {
  test(`property: random ${kind} register accesses never throw or touch memory outside the guest`, () => {
    fc.assert(
      fc.property(fc.array(access(kind === 'legacy' ? 40 : MODERN_BAR_SIZE), { minLength: 1, maxLength: 120 }), fc.integer(), (accesses, seed) => {
        const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
        const g = guardedMemory([{ guestPhysAddr: 0, size: 1 << 20 }]);
        const device = new VirtioNetDevice({ backend: a });
        device.memory = g.memory;
        // Guest memory full of noise: whatever rings the driver points at are hostile.
        const bytes = g.memory.regions[0]!.bytes;
        let x32 = seed | 1;
        for (let i = 0; i < bytes.length; i += 4) {
          x32 ^= x32 << 13;
          x32 ^= x32 >>> 17;
          x32 ^= x32 << 5;
          bytes[i] = x32 & 0xff;
          bytes[i + 1] = (x32 >>> 8) & 0xff;
          bytes[i + 2] = (x32 >>> 16) & 7; // small lengths and addresses, so some land in memory
          bytes[i + 3] = 0;
        }
        const pci = kind === 'legacy' ? new LegacyVirtioPci(device) : new ModernVirtioPci(device);
        for (const x of accesses) {
          if (x.write) pci.write(x.offset, x.size, x.value);
          else {
            const v = pci.read(x.offset, x.size);
            assert.ok(Number.isInteger(v) && v >= 0, `read ${x.offset}/${x.size} gave ${v}`);
          }
        }
        b.send([new Uint8Array(60)], 1); // a frame may arrive whatever state the device is in
        assert.ok(g.guardsIntact());
      }),
      { numRuns: 300 },
    );
  });
}

test.run();
