import { SlirpStack, parseSlirpConfig } from '../../src/core';
import { FakeHost } from './fake-host';
import { decode, type Decoded } from './guest';

/** A stack over a fake host with a seeded random source; `out()` drains and decodes its frames. */
export function makeStack(spec = 'slirp,resolver=192.0.2.53') {
  const host = new FakeHost();
  let seed = 42;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 0x100000000;
  };
  const stack = new SlirpStack(parseSlirpConfig(spec), { host, random });
  const out = (): Decoded[] => {
    const frames: Decoded[] = [];
    for (let f = stack.takeFrame(); f; f = stack.takeFrame()) frames.push(decode(f));
    return frames;
  };
  return { host, stack, out };
}
