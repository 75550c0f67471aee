import * as assert from 'uvu/assert';
import { applies, type GroupBuilder, type KitTest } from '../group';

/** close(): releases everything, idempotent, and every verb after it is a no-op returning 0. */
export const closeGroup: GroupBuilder = (supports) => {
  const tests: KitTest[] = [
    {
      name: 'close resolves and is idempotent; concurrent closes both resolve',
      fn: async ({ backend }) => {
        await Promise.all([backend.close(), backend.close()]);
        await backend.close();
      },
    },
    {
      name: 'after close every verb is a no-op returning 0 and nothing throws',
      fn: async ({ backend }, kit) => {
        let calls = 0;
        backend.attach({ rxReady: () => void calls++ });
        await backend.close();
        assert.is(backend.send([kit.frame()], 1), 0, 'send');
        assert.is(backend.peekRecvLen(), 0, 'peekRecvLen');
        assert.is(backend.recv([new Uint8Array(2048)], 1), 0, 'recv');
        assert.is(backend.rxDiscard(), 0, 'rxDiscard');
        assert.is(backend.getCap(), 0n, 'getCap');
        backend.setCap(0n, 12);
        backend.rxEnable();
        backend.rxDisable();
        backend.attach({ rxReady: () => void calls++ });
        assert.type(backend.stats.txFrames, 'number', 'stats stay readable');
        await kit.settle();
        assert.is(calls, 0, 'rxReady after close');
      },
    },
  ];
  if (applies(supports.send)) {
    tests.push({
      name: 'close right after a burst of sends resolves',
      fn: async ({ backend }, kit) => {
        for (let i = 0; i < 64; i++) backend.send([kit.frame(60 + i)], 1);
        await backend.close();
        assert.is(backend.send([kit.frame()], 1), 0);
      },
    });
  }
  if (applies(supports.receive)) {
    tests.push(
      {
        name: 'close with frames waiting and rxReady due: no call after close',
        needs: ['deliverToBackend'],
        fn: async (t, kit) => {
          const probe = t.probe();
          for (let i = 0; i < 3; i++) await kit.deliver(t, kit.frame());
          await kit.arrived(t.backend);
          probe.enable(); // a call is due
          await t.backend.close();
          await kit.quiet(probe, 0, 'rxReady after close');
          assert.is(t.backend.peekRecvLen(), 0);
        },
      },
      {
        name: 'close from inside rxReady (a device reset): no further calls, nothing throws',
        needs: ['deliverToBackend'],
        fn: async (t, kit) => {
          const probe = t.probe();
          let closing: Promise<void> | undefined;
          probe.onReady = () => {
            closing ??= t.backend.close();
          };
          for (let i = 0; i < 3; i++) await kit.deliver(t, kit.frame());
          await kit.arrived(t.backend);
          probe.enable();
          await kit.called(probe, 0, 'rxReady');
          await closing;
          await kit.quiet(probe, 1, 'rxReady after close');
        },
      },
      {
        name: 'frames arriving after close are ignored',
        needs: ['deliverToBackend'],
        fn: async (t, kit) => {
          const probe = t.probe();
          probe.enable();
          await t.backend.close();
          try {
            await kit.deliver(t, kit.frame());
          } catch {
            // the far side may refuse once the backend is gone; that is fine
          }
          await kit.quiet(probe, 0, 'rxReady after close');
          assert.is(t.backend.peekRecvLen(), 0);
        },
      },
    );
  }
  return tests;
};
