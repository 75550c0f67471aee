import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';

// The code blocks of docs/backend-authors.md are excerpts of the example files, which are
// type-checked and tested; this keeps the guide from drifting away from them.
const read = (name: string): string => readFileSync(new URL(name, import.meta.url), 'utf8');
const guide = read('../backend-authors.md');
const sources = [read('./udp-backend.ts'), read('./udp-backend.test.ts')];
const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

test('the guide has code samples', () => {
  assert.ok(blocks.length >= 6, `only ${blocks.length} ts blocks`);
});

test('every ts block of the guide is a verbatim excerpt of a checked example file', () => {
  for (const block of blocks) {
    const found = sources.some((s) => s.includes(block));
    assert.ok(found, `not found in docs/examples:\n${block}`);
  }
});

test.run();
