/**
 * Property: over random driver and device actions, SplitQueue takes the same decisions as the
 * reference model (which chain pops, its segments, used-ring contents, avail_event, whether to
 * interrupt, whether chains arrived after re-enabling notifications).
 * NETBE_FUZZ_RUNS raises the number of runs (default 300).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { VIRTIO_F_NOTIFY_ON_EMPTY, featureMask } from '@netbe/virtio';
import { ModelQueue } from './reference-model';
import { F_EVENT_IDX, F_INDIRECT, F_VERSION_1, pattern, rig } from './harness';

const runs = Number(process.env.NETBE_FUZZ_RUNS ?? 300);

type Action =
  | { t: 'post'; readable: number[]; writable: number[]; indirect: boolean; seg: number; publish: boolean }
  | { t: 'postFixed'; writable: boolean }
  | { t: 'serve' }
  | { t: 'publishAvail' }
  | { t: 'pop'; n: number }
  | { t: 'run'; max: number; minLen: number; want: number }
  | { t: 'usedRun'; n: number; len: number }
  | { t: 'used'; pick: number; len: number }
  | { t: 'publish' }
  | { t: 'interrupt'; empty: boolean }
  | { t: 'take' }
  | { t: 'usedEvent'; delta: number }
  | { t: 'noInterrupt'; on: boolean }
  | { t: 'ret'; n: number }
  | { t: 'disable' }
  | { t: 'enable' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('post' as const), readable: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 3 }), writable: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }), indirect: fc.boolean(), seg: fc.integer({ min: 1, max: 64 }), publish: fc.boolean() }) },
  // One fixed-size buffer: the driver reuses slots and addresses, as guests do (the cached path).
  { weight: 4, arbitrary: fc.record({ t: fc.constant('postFixed' as const), writable: fc.boolean() }) },
  // A whole device turn: pop everything, use it, publish, decide, and the driver reaps.
  { weight: 3, arbitrary: fc.constant({ t: 'serve' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'publishAvail' as const }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('pop' as const), n: fc.integer({ min: 1, max: 6 }) }) },
  // A run of one-buffer writable chains (mergeable RX), as the receive path takes them.
  { weight: 3, arbitrary: fc.record({ t: fc.constant('run' as const), max: fc.integer({ min: 0, max: 8 }), minLen: fc.integer({ min: 0, max: 40 }), want: fc.integer({ min: 1, max: 200 }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('used' as const), pick: fc.nat(), len: fc.nat(100) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('usedRun' as const), n: fc.integer({ min: 1, max: 4 }), len: fc.nat(100) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'publish' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('interrupt' as const), empty: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ t: 'take' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('usedEvent' as const), delta: fc.integer({ min: -3, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('noInterrupt' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('ret' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'disable' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'enable' as const }) },
);

test('SplitQueue agrees with the reference model over random actions', () => {
  fc.assert(
    fc.property(
      fc.record({ eventIdx: fc.boolean(), indirect: fc.boolean(), notifyOnEmpty: fc.boolean(), sizeLog: fc.integer({ min: 0, max: 4 }) }),
      fc.array(actionArb, { maxLength: 120, size: 'large' }),
      (cfg, actions) => {
        const legacy = cfg.notifyOnEmpty; // NOTIFY_ON_EMPTY exists on legacy interfaces only
        const features = (legacy ? 0n : F_VERSION_1) | (cfg.eventIdx ? F_EVENT_IDX : 0n) | (cfg.indirect ? F_INDIRECT : 0n) | (cfg.notifyOnEmpty ? featureMask(VIRTIO_F_NOTIFY_ON_EMPTY) : 0n);
        const size = 1 << cfg.sizeLog;
        const r = rig({ features, queueSize: size, legacy, maxSegments: 64 });
        const { driver, queue, chain } = r;
        const model = new ModelQueue(driver.memory, {
          size,
          descAddr: driver.descAddr,
          availAddr: driver.availAddr,
          usedAddr: driver.usedAddr,
          eventIdx: cfg.eventIdx,
          indirect: cfg.indirect,
          notifyOnEmpty: cfg.notifyOnEmpty,
          maxSegments: 64,
          policy: 'break',
        });
        const popped: number[] = []; // heads popped and not yet used, in pop order
        for (const a of actions) {
          switch (a.t) {
            case 'post':
              if (a.readable.length + a.writable.length === 0) break;
              driver.post({ readable: a.readable.map((n, i) => pattern(n, i)), writable: a.writable, indirect: a.indirect && cfg.indirect, segmentSize: a.seg }, a.publish);
              break;
            case 'postFixed':
              driver.post(a.writable ? { writable: [32] } : { readable: [pattern(32)] });
              break;
            case 'publishAvail':
              driver.publish();
              break;
            case 'serve':
            case 'pop':
              for (let i = 0; i < (a.t === 'pop' ? a.n : size + 1); i++) {
                const expected = model.pop();
                const got = queue.pop(chain);
                if (expected.kind === 'chain') {
                  assert.ok(got, 'model popped a chain');
                  assert.is(chain.head, expected.head);
                  assert.equal(
                    Array.from({ length: chain.count }, (_, k) => ({ addr: chain.addrs[k], len: chain.lens[k], writable: k >= chain.readable })),
                    expected.segments,
                  );
                  for (let k = 0; k < chain.count; k++) assert.is(chain.iov[k]!.length, chain.lens[k]);
                  popped.push(chain.head);
                } else {
                  assert.not.ok(got, `model: ${expected.kind}`);
                  assert.is(queue.error?.code ?? null, expected.kind === 'error' ? expected.code : model.broken);
                  break;
                }
              }
              if (a.t === 'serve') {
                for (const head of popped.splice(0)) {
                  queue.addUsed(head, 1);
                  model.addUsed(head, 1);
                }
                queue.publish();
                model.publish();
                assert.is(queue.needsInterrupt(true), model.needsInterrupt(true));
                driver.takeAllUsed();
              }
              break;
            case 'run': {
              const expected = model.popRun(a.max, a.minLen, a.want);
              const iov: Uint8Array[] = new Array<Uint8Array>(10).fill(new Uint8Array(0));
              const heads = new Uint16Array(10);
              const lens = new Uint32Array(10);
              const n = queue.popWritableRun(iov, 1, heads, lens, 2, a.max, a.minLen, a.want);
              assert.is(n, expected.length, 'chains in the run');
              let bytes = 0;
              for (let k = 0; k < n; k++) {
                const e = expected[k]!;
                assert.is(heads[2 + k], e.head);
                assert.is(lens[2 + k], e.len);
                popped.push(e.head);
                bytes += e.len;
              }
              assert.is(queue.runBytes, bytes);
              // The iov entries cover the buffers in order: each entry is one buffer, or several
              // that follow each other in guest memory (one view of them all).
              const segments = n === 0 ? 0 : queue.runSegments;
              assert.ok(segments >= (n === 0 ? 0 : 1) && segments <= n, `${segments} entries for ${n} chains`);
              // (Empty buffers carry no bytes and may sit in any entry: only the others are followed.)
              const carrying = expected.slice(0, n).filter((e) => e.len > 0);
              let k = 0;
              for (let s = 0; s < segments; s++) {
                const entry = iov[1 + s]!;
                let covered = 0;
                while (covered < entry.length) {
                  const e = carrying[k++]!;
                  const own = driver.memory.translate(e.addr, e.len)!;
                  assert.is(own.buffer, entry.buffer, 'the same guest memory');
                  assert.is(own.byteOffset, entry.byteOffset + covered, 'the buffers of an entry follow each other');
                  covered += e.len;
                }
                assert.is(covered, entry.length, 'an entry ends where its last buffer ends');
              }
              assert.is(k, carrying.length, 'every buffer in an entry');
              break;
            }
            case 'usedRun': {
              const n = Math.min(a.n, popped.length);
              const heads = Uint16Array.from(popped.splice(0, n));
              const lens = Uint32Array.from(heads, (_, k) => a.len + k);
              queue.addUsedRun(heads, lens, n);
              heads.forEach((head, k) => model.addUsed(head, lens[k]!));
              break;
            }
            case 'used': {
              if (popped.length === 0) break;
              const [head] = popped.splice(a.pick % popped.length, 1);
              queue.addUsed(head!, a.len);
              model.addUsed(head!, a.len);
              break;
            }
            case 'publish':
              queue.publish();
              model.publish();
              break;
            case 'interrupt':
              assert.is(queue.needsInterrupt(a.empty), model.needsInterrupt(a.empty));
              break;
            case 'take':
              driver.takeAllUsed();
              break;
            case 'usedEvent':
              driver.setUsedEvent(driver.lastUsedIdx + a.delta);
              break;
            case 'noInterrupt':
              driver.setAvailFlags(a.on ? 1 : 0);
              break;
            case 'ret': {
              // Only the most recent chains, and only while none of them was used.
              const n = Math.min(a.n, popped.length);
              const outstanding = (queue.lastAvailIdx - queue.usedIdx) & 0xffff;
              if (n === 0 || n > outstanding || queue.error !== null) break;
              popped.splice(popped.length - n, n);
              queue.retChains(n);
              model.retChains(n);
              break;
            }
            case 'disable':
              queue.disableNotifications();
              model.disableNotifications();
              break;
            case 'enable':
              assert.is(queue.enableNotifications(), model.enableNotifications());
              break;
          }
          assert.equal(model.compareDeviceWrites(), [], `after ${a.t}`);
          assert.is(queue.lastAvailIdx, model.lastAvail);
          assert.is(queue.error?.code ?? null, model.broken);
        }
        assert.ok(driver.guardsIntact());
      },
    ),
    { numRuns: runs },
  );
});

test.run();
