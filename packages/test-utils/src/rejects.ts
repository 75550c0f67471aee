/**
 * Asserts that `work` rejects (uvu has no async-rejection assertion). `expected` may be an error
 * class, an error `code` string, or a RegExp matched against the message. Returns the error.
 */
export async function assertRejects(
  work: Promise<unknown> | (() => Promise<unknown>),
  expected?: (new (...args: never[]) => Error) | string | RegExp,
): Promise<Error> {
  let error: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error('expected a rejection, but the promise resolved');
  if (!(error instanceof Error)) throw new Error(`expected an Error, got ${String(error)}`);
  if (typeof expected === 'function' && !(error instanceof expected)) {
    throw new Error(`expected ${expected.name}, got ${(error as Error).name}: ${(error as Error).message}`);
  }
  if (typeof expected === 'string' && (error as { code?: unknown }).code !== expected) {
    throw new Error(`expected code ${expected}, got ${String((error as { code?: unknown }).code)}: ${error.message}`);
  }
  if (expected instanceof RegExp && !expected.test(error.message)) {
    throw new Error(`expected message matching ${expected}, got: ${error.message}`);
  }
  return error;
}
