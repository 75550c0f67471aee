import * as assert from 'uvu/assert';
import { splitAt } from '../frames';
import { assertBytes } from '../kit';
import type { GroupBuilder } from '../group';
import { checkSendAccounting } from './send-accounting';

const needs = ['collectFromBackend'] as const;

/** Frames handed to send come out on the far side intact and in order. */
export const sendGroup: GroupBuilder = () => [
  {
    name: 'a frame comes out on the far side intact, at every size up to maxFrameLength',
    needs,
    fn: async (t, kit) => {
      const sizes = [...new Set([60, 61, 128, 1514, kit.maxFrame].filter((n) => n <= kit.maxFrame))];
      const sent = sizes.map((n) => kit.frame(n));
      for (const f of sent) {
        const before = { ...t.backend.stats };
        checkSendAccounting(t.backend, before, t.backend.send([f], 1), f.length, `${f.length}-byte frame`);
        assert.ok(t.backend.stats.txFrames > before.txFrames, `the ${f.length}-byte frame was dropped`);
      }
      const got = await kit.collect(t, sent.length);
      sent.forEach((f, i) => assertBytes(got[i]!, f, `frame ${i} (${f.length} bytes)`));
    },
  },
  {
    name: 'a frame gathered from several segments (views into one buffer, empty ones too) comes out whole',
    needs,
    fn: async (t, kit) => {
      const f = kit.frame(300);
      const iov = splitAt(f, 1, 14, 14, 15, 200);
      assert.is(t.backend.send(iov, iov.length), 300);
      const [got] = await kit.collect(t, 1);
      assertBytes(got!, f, 'gathered frame');
    },
  },
  {
    name: 'frames come out in the order they were sent',
    needs,
    fn: async (t, kit) => {
      const sent = Array.from({ length: 32 }, (_, i) => kit.frame(60 + i * 13));
      const accepted = sent.filter((f) => t.backend.send([f], 1) > 0);
      assert.ok(accepted.length > 0, 'every frame of a 32-frame burst was dropped');
      const got = await kit.collect(t, accepted.length);
      accepted.forEach((f, i) => assertBytes(got[i]!, f, `frame ${i} of the burst`));
    },
  },
];
