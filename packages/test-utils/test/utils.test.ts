import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout, assertRejects, prerequisite, sleep } from '../src/index';

test('withTimeout rejects a promise that never settles', async () => {
  const err = await assertRejects(withTimeout(20, new Promise(() => {}), 'never'));
  assert.match(err.message, /never did not finish within 20 ms/);
});

test('withTimeout passes a value through', async () => {
  assert.is(await withTimeout(1000, sleep(1).then(() => 7)), 7);
});

test('assertRejects checks codes and fails on resolution', async () => {
  const e = Object.assign(new Error('x'), { code: 'EX' });
  await assertRejects(Promise.reject(e), 'EX');
  await assertRejects(assertRejects(Promise.resolve(1)), /resolved/);
  await assertRejects(assertRejects(Promise.reject(e), 'OTHER'), /expected code OTHER/);
});

test('prerequisite reports the first missing check', () => {
  assert.equal(prerequisite([true, 'a'], [false, 'b'], [false, 'c']), { ok: false, reason: 'b' });
  assert.equal(prerequisite([true, 'a']), { ok: true, reason: '' });
});

test.run();
