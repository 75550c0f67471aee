import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sys } from '../src/index';
import { throwsType } from './helpers';

test('eventfd counts writes; reading resets; empty reads -1', () => {
  const fd = sys.eventfdCreate();
  assert.is(sys.eventfdRead(fd), -1);
  assert.is(sys.eventfdWrite(fd), true);
  assert.is(sys.eventfdWrite(fd, 41), true);
  assert.is(sys.eventfdRead(fd), 42);
  assert.is(sys.eventfdRead(fd), -1);
  sys.close(fd);
});

test('semaphore mode and an initial value', () => {
  const fd = sys.eventfdCreate(2, { semaphore: true });
  assert.is(sys.eventfdRead(fd), 1);
  assert.is(sys.eventfdRead(fd), 1);
  assert.is(sys.eventfdRead(fd), -1);
  sys.close(fd);
});

test('a write that would overflow the counter returns false', () => {
  const fd = sys.eventfdCreate();
  assert.is(sys.eventfdWrite(fd, 2 ** 53 - 1), true);
  // The counter maximum is 2^64-2; add enough times to reach it without throwing.
  let sawFull = false;
  for (let i = 0; i < 4096 && !sawFull; i++) sawFull = !sys.eventfdWrite(fd, 2 ** 53 - 1);
  assert.ok(sawFull);
  sys.close(fd);
});

test('argument validation', () => {
  throwsType(() => sys.eventfdCreate(-1));
  throwsType(() => sys.eventfdCreate(0, { semaphore: 1 as unknown as boolean }), /semaphore/);
  const fd = sys.eventfdCreate();
  throwsType(() => sys.eventfdWrite(fd, 0), /value/);
  throwsType(() => sys.eventfdWrite(fd, 1.5), /integer/);
  sys.close(fd);
});

test.run();
