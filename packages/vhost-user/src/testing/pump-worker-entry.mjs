// Worker entry for pump-worker: Node 20 does not pass the main thread's tsx hooks to workers,
// so running from TypeScript sources registers tsx here first.
import { existsSync } from 'node:fs';

const compiled = new URL('./pump-worker.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('./pump-worker.ts', import.meta.url).href);
}
