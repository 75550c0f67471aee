import * as assert from 'uvu/assert';
import { assertBytes } from '../kit';
import { applies, type GroupBuilder } from '../group';

/** The same configuration opens again after close: resources were really released. */
export const reopenGroup: GroupBuilder = (supports) => [
  {
    name: 'create, use and close three times in a row',
    raw: async (kit) => {
      for (let round = 0; round < 3; round++) {
        const needs = [
          ...(applies(supports.send) ? (['collectFromBackend'] as const) : []),
          ...(applies(supports.receive) ? (['deliverToBackend'] as const) : []),
        ];
        const harness = await kit.open(needs);
        const t = { harness, backend: harness.backend, probe: () => assert.unreachable('no probe here') as never };
        try {
          harness.backend.setCap(0n, 0);
          if (applies(supports.send)) {
            const f = kit.frame(64 + round);
            assert.is(harness.backend.send([f], 1), f.length, `round ${round}: send`);
            assertBytes((await kit.collect(t, 1))[0]!, f, `round ${round}: sent frame`);
          }
          if (applies(supports.receive)) {
            const expected = await kit.deliver(t, kit.frame(80 + round));
            assertBytes(await kit.receiveOne(harness.backend), expected, `round ${round}: received frame`);
          }
        } finally {
          await kit.dispose(harness);
        }
      }
    },
  },
];
