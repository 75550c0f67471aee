import * as assert from 'uvu/assert';
import { assertBytes } from '../kit';
import { until } from '../wait';
import type { GroupBuilder } from '../group';

const needs = ['deliverToBackend'] as const;

/**
 * rxReady is level-triggered and gated (bhyve mevent read events): never before rxEnable, never
 * synchronously from a verb, never after rxDisable until rxEnable, again while frames remain.
 */
export const rxGatingGroup: GroupBuilder = () => [
  {
    name: 'RX starts disabled: a waiting frame raises no rxReady before rxEnable',
    needs,
    fn: async (t, kit) => {
      const probe = t.probe();
      await kit.deliver(t, kit.frame());
      await kit.arrived(t.backend);
      await kit.quiet(probe, 0, 'rxReady before rxEnable');
    },
  },
  {
    name: 'rxEnable with a frame waiting calls rxReady on a later turn, never synchronously',
    needs,
    fn: async (t, kit) => {
      const probe = t.probe();
      await kit.deliver(t, kit.frame());
      await kit.arrived(t.backend);
      probe.enable();
      assert.is(probe.calls, 0, 'rxReady ran inside rxEnable');
      await kit.called(probe, 0, 'rxReady after rxEnable with a frame waiting');
    },
  },
  {
    name: 'a frame arriving while RX is enabled raises rxReady; a drained backend stays quiet',
    needs,
    fn: async (t, kit) => {
      const probe = t.probe();
      const received: Uint8Array[] = [];
      probe.onReady = () => {
        for (let len = t.backend.peekRecvLen(); len > 0; len = t.backend.peekRecvLen()) {
          const buf = new Uint8Array(len);
          t.backend.recv([buf], 1);
          received.push(buf);
        }
      };
      probe.enable();
      await kit.quiet(probe, 0, 'rxReady with nothing waiting');
      const expected = await kit.deliver(t, kit.frame(80));
      await kit.called(probe, 0, 'rxReady for a frame arriving while enabled');
      assert.is(received.length, 1);
      assertBytes(received[0]!, expected, 'frame received in rxReady');
      await kit.quiet(probe, probe.calls, 'rxReady after the backend was drained');
    },
  },
  {
    name: 'no rxReady after rxDisable, even with a call already due, until rxEnable',
    needs,
    fn: async (t, kit) => {
      const probe = t.probe();
      await kit.deliver(t, kit.frame());
      await kit.arrived(t.backend);
      probe.enable(); // a call is now due
      probe.disable();
      await kit.deliver(t, kit.frame());
      await kit.quiet(probe, 0, 'rxReady after rxDisable');
      probe.enable();
      await kit.called(probe, 0, 'rxReady after rxEnable again');
    },
  },
  {
    name: 'rxDisable inside rxReady stops the calls (the guest is out of buffers); rxEnable resumes',
    needs,
    fn: async (t, kit) => {
      const probe = t.probe();
      probe.onReady = () => {
        const buf = new Uint8Array(t.backend.peekRecvLen());
        t.backend.recv([buf], 1);
        probe.disable();
      };
      for (let i = 0; i < 3; i++) await kit.deliver(t, kit.frame());
      await kit.arrived(t.backend);
      probe.enable();
      await kit.called(probe, 0, 'the first rxReady');
      await kit.quiet(probe, 1, 'rxReady after rxDisable inside rxReady');
      assert.ok(t.backend.peekRecvLen() > 0, 'the other frames are still waiting');
      probe.enable();
      await kit.called(probe, 1, 'rxReady after rxEnable');
    },
  },
  {
    name: 'level-triggered: a call that leaves frames waiting is followed by another',
    needs,
    fn: async (t, kit) => {
      const probe = t.probe();
      const expected: Uint8Array[] = [];
      for (let i = 0; i < 4; i++) expected.push(await kit.deliver(t, kit.frame(60 + i)));
      const received: Uint8Array[] = [];
      probe.onReady = () => {
        const len = t.backend.peekRecvLen();
        if (len === 0) return;
        const buf = new Uint8Array(len);
        t.backend.recv([buf], 1); // one frame per call, RX left enabled
        received.push(buf);
      };
      probe.enable();
      await kit.called(probe, 0, 'the first rxReady');
      await until(() => received.length === 4, kit.timeoutMs, `4 frames received one per rxReady (got ${received.length})`);
      expected.forEach((f, i) => assertBytes(received[i]!, f, `frame ${i}`));
    },
  },
  {
    name: 'recv works while RX is disabled (the gate holds back callbacks, not frames)',
    needs,
    fn: async (t, kit) => {
      const expected = await kit.deliver(t, kit.frame(77));
      assertBytes(await kit.receiveOne(t.backend), expected, 'frame received with RX disabled');
    },
  },
];
