import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '../src');

/** The files `src/core.ts` reaches through relative imports. */
function coreFiles(): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(join(src, file), 'utf8');
    for (const m of text.matchAll(/from '\.\/([\w-]+)'/g)) visit(`${m[1]}.ts`);
  };
  visit('core.ts');
  return [...seen];
}

test('the sans-I/O core uses no Node API (it must run in a browser too)', () => {
  const files = coreFiles();
  assert.ok(files.includes('stack.ts') && files.includes('tcp-connection.ts'), files.join(', '));
  assert.not.ok(files.includes('node-host.ts') || files.includes('backend.ts'), 'the adapter is not part of the core');
  for (const f of files) {
    const text = readFileSync(join(src, f), 'utf8');
    assert.not.match(text, /from 'node:|require\(|\bBuffer\b|\bprocess\.|setTimeout|setImmediate|Date\.now|performance\.now/, `${f} uses a Node API or a clock`);
    for (const m of text.matchAll(/from '(@[\w/-]+)'/g)) assert.ok(['@netbe/wire', '@netbe/core'].includes(m[1]!), `${f} imports ${m[1]} (only @netbe/wire and @netbe/core, both Node-free, are allowed in the core)`);
  }
});

test.run();
