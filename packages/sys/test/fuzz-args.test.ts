// Every exported function called with junk arguments: it throws a TypeError or an errno Error,
// or returns; the process never crashes. The pools hold no valid fd (small integers are left out
// so nothing of this process is closed or written) and no existing name or path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { isSysError, sys } from '../src/index';

/** Functions that would create something (an interface, a file, a socket) with a valid argument. */
const CREATES = new Set(['tapOpen', 'unixListen', 'memfdCreate', 'eventfdCreate', 'socketpair', 'packetOpen', 'unixConnect', 'icmpOpen']);

const junk = fc.constantFrom<unknown>(
  undefined, null, true, -1, 0.5, Number.NaN, Infinity, 2 ** 31, 2 ** 53, 999_999,
  '', 'a\0b', 'x'.repeat(300), 'nbnosuchif9', {}, [], [1, 2], [new Uint8Array(4)], [new Uint16Array(2)],
  new Uint8Array(0), new Uint8Array(16), new Float64Array(2), new ArrayBuffer(8), new DataView(new ArrayBuffer(4)),
  () => 1, Symbol('s'), 10n, { name: 5 }, { write: 'yes' }, { semaphore: 1 },
);

const functions = Object.entries(sys).filter(([name, v]) => typeof v === 'function' && !CREATES.has(name)) as Array<[string, (...a: unknown[]) => unknown]>;

test('junk arguments: TypeError or errno Error, never a crash', () => {
  assert.ok(functions.length > 25, `only ${functions.length} functions`);
  fc.assert(
    fc.property(fc.constantFrom(...functions), fc.array(junk, { maxLength: 5 }), ([name, fn], args) => {
      try {
        fn(...args);
      } catch (e) {
        if (e instanceof TypeError || isSysError(e)) return true;
        throw new Error(`${name}(${args.map(String).join(', ')}) threw ${String(e)}`);
      }
      return true;
    }),
    { numRuns: 3000 },
  );
});

test('creating functions with junk arguments: TypeError, never a crash', () => {
  for (const name of CREATES) {
    const fn = (sys as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
    for (const bad of [[7], [{}], [null, 'x'], ['a\0b'], [Symbol('s')], [{ name: 5 }], ['x'.repeat(5000)]]) {
      try {
        const r = fn(...bad);
        if (typeof r === 'number' && r > 2) sys.close(r); // e.g. eventfdCreate(undefined-ish) succeeded
        if (Array.isArray(r)) for (const fd of r) sys.close(fd as number);
      } catch (e) {
        assert.ok(e instanceof TypeError || isSysError(e), `${name}: ${String(e)}`);
      }
    }
  }
});

test.run();
