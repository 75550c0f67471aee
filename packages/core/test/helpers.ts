import * as assert from 'uvu/assert';
import { ConfigError } from '../src/index';

/** Runs `fn`, which must throw a ConfigError, and returns it. */
export function expectConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
