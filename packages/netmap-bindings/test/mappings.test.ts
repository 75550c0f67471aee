import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MappingCache } from '../src/mappings';

test('one mapping per allocator: mapped by the first port, shared, unmapped by the last', () => {
  const cache = new MappingCache();
  const mapped: ArrayBuffer[] = [];
  const unmapped: ArrayBuffer[] = [];
  const map = (size: number) => () => {
    const b = new ArrayBuffer(size);
    mapped.push(b);
    return b;
  };
  const a1 = cache.acquire(1, 4096, map(4096));
  const a2 = cache.acquire(1, 4096, map(4096));
  const b1 = cache.acquire(2, 8192, map(8192));
  assert.is(a1, a2, 'ports of allocator 1 share one mapping');
  assert.is.not(a1, b1);
  assert.is(mapped.length, 2);
  cache.release(1, a1, (m) => unmapped.push(m));
  assert.is(unmapped.length, 0, 'still in use by the second port');
  cache.release(1, a2, (m) => unmapped.push(m));
  assert.equal(unmapped, [a1]);
  const a3 = cache.acquire(1, 4096, map(4096));
  assert.is.not(a3, a1, 'mapped again after the last user closed');
  // An allocator rebuilt with another size: a new mapping; the old one is unmapped by its last user.
  const a4 = cache.acquire(1, 16384, map(16384));
  assert.is.not(a4, a3);
  cache.release(1, a3, (m) => unmapped.push(m));
  assert.is(unmapped.at(-1), a3);
  cache.release(1, a4, (m) => unmapped.push(m));
  cache.release(2, b1, (m) => unmapped.push(m));
  assert.is(cache.size, 0);
  assert.is(unmapped.length, 4);
});

test.run();
