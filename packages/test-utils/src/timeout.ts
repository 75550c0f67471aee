/** Rejects with a clear message when `work` has not settled within `ms` milliseconds. */
export async function withTimeout<T>(ms: number, work: Promise<T> | (() => Promise<T>), what = 'operation'): Promise<T> {
  const promise = typeof work === 'function' ? work() : work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every `intervalMs` until it is true or `ms` have passed (then rejects). */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms = 5000, what = 'condition', intervalMs = 5): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`);
    await sleep(intervalMs);
  }
}
