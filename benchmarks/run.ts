/**
 * `npm run bench -- <suite> [--json]`: runs benchmarks/<suite>.ts. Without a suite it lists them.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Harness } from './harness';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const suites = args.filter((a) => !a.startsWith('--'));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'harness.ts'].includes(f) && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort();

if (suites.length === 0) {
  console.log(`usage: npm run bench -- <suite> [--json]\nsuites: ${available.join(', ')}`);
  process.exit(0);
}
for (const suite of suites) {
  if (!available.includes(suite)) {
    console.error(`unknown benchmark suite "${suite}" (available: ${available.join(', ')})`);
    process.exit(2);
  }
  const mod = (await import(pathToFileURL(join(here, `${suite}.ts`)).href)) as { default: (h: Harness) => Promise<void> | void };
  const h = new Harness(suite, json);
  await mod.default(h);
}
